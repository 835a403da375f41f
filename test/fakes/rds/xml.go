package rds

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
)

// apiError is an error answer.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// errorf returns an error answer.
func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// errorResponse is the document of an error answer.
type errorResponse struct {
	XMLName   xml.Name    `xml:"ErrorResponse"`
	Xmlns     string      `xml:"xmlns,attr"`
	Error     errorDetail `xml:"Error"`
	RequestID string      `xml:"RequestId"`
}

type errorDetail struct {
	// Type is Sender for the caller's errors and Receiver for the
	// service's.
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// writeError writes an error answer.
func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	doc := errorResponse{Xmlns: Namespace, Error: errorDetail{Type: typ, Code: e.code, Message: e.message}, RequestID: reqID}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(doc); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	_, _ = w.Write(buf.Bytes())
}

// writeResult writes a success answer: <ActionResponse><ActionResult>
// result</ActionResult><ResponseMetadata>. A nil result, as for
// AddTagsToResource, has no Result element.
func writeResult(w http.ResponseWriter, reqID, action string, result any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{
		Name: xml.Name{Local: action + "Response"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}},
	}
	err := enc.EncodeToken(start)
	if err == nil && result != nil {
		err = enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	if err == nil {
		err = enc.EncodeElement(responseMetadata{RequestID: reqID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	}
	if err == nil {
		err = enc.EncodeToken(start.End())
	}
	if err == nil {
		err = enc.Flush()
	}
	if err != nil {
		writeError(w, reqID, errorf(http.StatusInternalServerError, "InternalFailure", "cannot encode the answer"))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// dbInstanceResult is the result of CreateDBInstance, ModifyDBInstance and
// DeleteDBInstance.
type dbInstanceResult struct {
	DBInstance dbInstanceXML `xml:"DBInstance"`
}

// describeDBInstancesResult is the result of DescribeDBInstances.
type describeDBInstancesResult struct {
	DBInstances []dbInstanceXML `xml:"DBInstances>DBInstance"`
	Marker      string          `xml:"Marker,omitempty"`
}

// listTagsResult is the result of ListTagsForResource.
type listTagsResult struct {
	TagList []tagXML `xml:"TagList>Tag"`
}

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type endpointXML struct {
	Address      string `xml:"Address"`
	Port         int32  `xml:"Port"`
	HostedZoneID string `xml:"HostedZoneId"`
}

type vpcSecurityGroupXML struct {
	VpcSecurityGroupID string `xml:"VpcSecurityGroupId"`
	Status             string `xml:"Status"`
}

type parameterGroupXML struct {
	DBParameterGroupName string `xml:"DBParameterGroupName"`
	ParameterApplyStatus string `xml:"ParameterApplyStatus"`
}

// pendingXML is PendingModifiedValues. A pending master password is shown
// as "****", never in clear.
type pendingXML struct {
	DBInstanceClass       string `xml:"DBInstanceClass,omitempty"`
	AllocatedStorage      *int32 `xml:"AllocatedStorage,omitempty"`
	MasterUserPassword    string `xml:"MasterUserPassword,omitempty"`
	BackupRetentionPeriod *int32 `xml:"BackupRetentionPeriod,omitempty"`
	MultiAZ               *bool  `xml:"MultiAZ,omitempty"`
	EngineVersion         string `xml:"EngineVersion,omitempty"`
}

// dbInstanceXML is a DBInstance as RDS describes it, in the order of the
// service's documents. Booleans are always present, as on RDS.
type dbInstanceXML struct {
	DBInstanceIdentifier             string                `xml:"DBInstanceIdentifier"`
	DBInstanceClass                  string                `xml:"DBInstanceClass"`
	Engine                           string                `xml:"Engine"`
	DBInstanceStatus                 string                `xml:"DBInstanceStatus"`
	MasterUsername                   string                `xml:"MasterUsername"`
	DBName                           string                `xml:"DBName,omitempty"`
	Endpoint                         *endpointXML          `xml:"Endpoint,omitempty"`
	AllocatedStorage                 int32                 `xml:"AllocatedStorage"`
	InstanceCreateTime               string                `xml:"InstanceCreateTime,omitempty"`
	PreferredBackupWindow            string                `xml:"PreferredBackupWindow"`
	BackupRetentionPeriod            int32                 `xml:"BackupRetentionPeriod"`
	VpcSecurityGroups                []vpcSecurityGroupXML `xml:"VpcSecurityGroups>VpcSecurityGroupMembership"`
	DBParameterGroups                []parameterGroupXML   `xml:"DBParameterGroups>DBParameterGroup"`
	AvailabilityZone                 string                `xml:"AvailabilityZone,omitempty"`
	PreferredMaintenanceWindow       string                `xml:"PreferredMaintenanceWindow"`
	PendingModifiedValues            pendingXML            `xml:"PendingModifiedValues"`
	LatestRestorableTime             string                `xml:"LatestRestorableTime,omitempty"`
	MultiAZ                          bool                  `xml:"MultiAZ"`
	EngineVersion                    string                `xml:"EngineVersion"`
	AutoMinorVersionUpgrade          bool                  `xml:"AutoMinorVersionUpgrade"`
	LicenseModel                     string                `xml:"LicenseModel"`
	PubliclyAccessible               bool                  `xml:"PubliclyAccessible"`
	StorageType                      string                `xml:"StorageType"`
	DbInstancePort                   int32                 `xml:"DbInstancePort"`
	StorageEncrypted                 bool                  `xml:"StorageEncrypted"`
	KmsKeyID                         string                `xml:"KmsKeyId,omitempty"`
	DbiResourceID                    string                `xml:"DbiResourceId"`
	CACertificateIdentifier          string                `xml:"CACertificateIdentifier"`
	CopyTagsToSnapshot               bool                  `xml:"CopyTagsToSnapshot"`
	DBInstanceArn                    string                `xml:"DBInstanceArn"`
	IAMDatabaseAuthenticationEnabled bool                  `xml:"IAMDatabaseAuthenticationEnabled"`
	PerformanceInsightsEnabled       bool                  `xml:"PerformanceInsightsEnabled"`
	DeletionProtection               bool                  `xml:"DeletionProtection"`
	TagList                          []tagXML              `xml:"TagList>Tag"`
	BackupTarget                     string                `xml:"BackupTarget"`
	NetworkType                      string                `xml:"NetworkType"`
	StorageThroughput                int32                 `xml:"StorageThroughput,omitempty"`
	Iops                             int32                 `xml:"Iops,omitempty"`
}
