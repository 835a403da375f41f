package s3shim

import (
	"encoding/xml"
	"errors"
	"fmt"
)

// s3Namespace is the XML namespace of every S3 REST document.
const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// errMalformed marks a document that does not parse or lacks a required
// element: S3 answers those with MalformedXML.
var errMalformed = errors.New("malformed XML")

// invalidArgumentError marks a document that parses but holds a value S3
// refuses with InvalidArgument.
type invalidArgumentError struct{ msg string }

func (e *invalidArgumentError) Error() string { return e.msg }

// The types below mirror the S3 REST/XML documents element by element, with
// the names aws-sdk-go-v2's s3 client serializes and deserializes. Optional
// elements are pointers so that what was PUT is marshalled back unchanged.

type sseConfiguration struct {
	XMLName xml.Name  `xml:"ServerSideEncryptionConfiguration"`
	Xmlns   string    `xml:"xmlns,attr,omitempty"`
	Rules   []sseRule `xml:"Rule"`
}

type sseRule struct {
	ApplyServerSideEncryptionByDefault *sseByDefault           `xml:"ApplyServerSideEncryptionByDefault"`
	BlockedEncryptionTypes             *blockedEncryptionTypes `xml:"BlockedEncryptionTypes"`
	BucketKeyEnabled                   *bool                   `xml:"BucketKeyEnabled"`
}

type sseByDefault struct {
	SSEAlgorithm   string  `xml:"SSEAlgorithm"`
	KMSMasterKeyID *string `xml:"KMSMasterKeyID"`
}

type blockedEncryptionTypes struct {
	EncryptionType []string `xml:"EncryptionType"`
}

type publicAccessBlockConfiguration struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	Xmlns                 string   `xml:"xmlns,attr,omitempty"`
	BlockPublicAcls       bool     `xml:"BlockPublicAcls"`
	IgnorePublicAcls      bool     `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     bool     `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets"`
}

type lifecycleConfiguration struct {
	XMLName xml.Name        `xml:"LifecycleConfiguration"`
	Xmlns   string          `xml:"xmlns,attr,omitempty"`
	Rules   []lifecycleRule `xml:"Rule"`
}

type lifecycleRule struct {
	ID                             *string                         `xml:"ID"`
	Prefix                         *string                         `xml:"Prefix"`
	Filter                         *lifecycleFilter                `xml:"Filter"`
	Status                         string                          `xml:"Status"`
	Expiration                     *lifecycleExpiration            `xml:"Expiration"`
	Transitions                    []transition                    `xml:"Transition"`
	NoncurrentVersionTransitions   []noncurrentVersionTransition   `xml:"NoncurrentVersionTransition"`
	NoncurrentVersionExpiration    *noncurrentVersionExpiration    `xml:"NoncurrentVersionExpiration"`
	AbortIncompleteMultipartUpload *abortIncompleteMultipartUpload `xml:"AbortIncompleteMultipartUpload"`
}

type lifecycleFilter struct {
	Prefix                *string       `xml:"Prefix"`
	Tag                   *tag          `xml:"Tag"`
	ObjectSizeGreaterThan *int64        `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *int64        `xml:"ObjectSizeLessThan"`
	And                   *lifecycleAnd `xml:"And"`
}

type lifecycleAnd struct {
	Prefix                *string `xml:"Prefix"`
	Tags                  []tag   `xml:"Tag"`
	ObjectSizeGreaterThan *int64  `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *int64  `xml:"ObjectSizeLessThan"`
}

type tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type lifecycleExpiration struct {
	Date                      *string `xml:"Date"`
	Days                      *int32  `xml:"Days"`
	ExpiredObjectDeleteMarker *bool   `xml:"ExpiredObjectDeleteMarker"`
}

type transition struct {
	Date         *string `xml:"Date"`
	Days         *int32  `xml:"Days"`
	StorageClass *string `xml:"StorageClass"`
}

type noncurrentVersionTransition struct {
	NoncurrentDays          *int32  `xml:"NoncurrentDays"`
	NewerNoncurrentVersions *int32  `xml:"NewerNoncurrentVersions"`
	StorageClass            *string `xml:"StorageClass"`
}

type noncurrentVersionExpiration struct {
	NoncurrentDays          *int32 `xml:"NoncurrentDays"`
	NewerNoncurrentVersions *int32 `xml:"NewerNoncurrentVersions"`
}

type abortIncompleteMultipartUpload struct {
	DaysAfterInitiation *int32 `xml:"DaysAfterInitiation"`
}

// normalizeEncryption parses a PutBucketEncryption body, checks it the way S3
// does for the common mistakes, and returns the document a GET answers with.
func normalizeEncryption(body []byte) ([]byte, error) {
	var c sseConfiguration
	if err := xml.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if len(c.Rules) == 0 {
		return nil, fmt.Errorf("%w: no Rule", errMalformed)
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		if d := r.ApplyServerSideEncryptionByDefault; d != nil {
			switch d.SSEAlgorithm {
			case "AES256":
				if d.KMSMasterKeyID != nil {
					return nil, &invalidArgumentError{"a KMSMasterKeyID is allowed only with SSEAlgorithm aws:kms or aws:kms:dsse"}
				}
			case "aws:kms", "aws:kms:dsse":
			case "":
				return nil, fmt.Errorf("%w: no SSEAlgorithm", errMalformed)
			default:
				return nil, &invalidArgumentError{fmt.Sprintf("unsupported SSEAlgorithm %q", d.SSEAlgorithm)}
			}
		}
		// S3 always reports BucketKeyEnabled, false unless it was set.
		if r.BucketKeyEnabled == nil {
			r.BucketKeyEnabled = new(bool)
		}
	}
	return marshalDocument(&c, &c.Xmlns)
}

// normalizePublicAccessBlock parses a PutPublicAccessBlock body and returns the
// document a GET answers with (S3 reports all four settings, false if unset).
func normalizePublicAccessBlock(body []byte) ([]byte, error) {
	var c publicAccessBlockConfiguration
	if err := xml.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return marshalDocument(&c, &c.Xmlns)
}

// normalizeLifecycle parses a PutBucketLifecycleConfiguration body, checks it,
// and returns the document a GET answers with.
func normalizeLifecycle(body []byte) ([]byte, error) {
	var c lifecycleConfiguration
	if err := xml.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if len(c.Rules) == 0 {
		return nil, fmt.Errorf("%w: no Rule", errMalformed)
	}
	if len(c.Rules) > 1000 {
		return nil, &invalidArgumentError{"a lifecycle configuration holds at most 1000 rules"}
	}
	ids := make(map[string]bool)
	for _, r := range c.Rules {
		if r.Status != "Enabled" && r.Status != "Disabled" {
			return nil, fmt.Errorf("%w: rule Status must be Enabled or Disabled, not %q", errMalformed, r.Status)
		}
		if r.ID != nil {
			if len(*r.ID) > 255 {
				return nil, &invalidArgumentError{"a rule ID is at most 255 characters"}
			}
			if ids[*r.ID] {
				return nil, &invalidArgumentError{fmt.Sprintf("rule ID %q is not unique", *r.ID)}
			}
			ids[*r.ID] = true
		}
		if r.Prefix != nil && r.Filter != nil {
			return nil, fmt.Errorf("%w: a rule has both Prefix and Filter", errMalformed)
		}
	}
	return marshalDocument(&c, &c.Xmlns)
}

// marshalDocument sets the S3 namespace on a document and marshals it with
// the XML declaration S3 sends.
func marshalDocument(v any, xmlns *string) ([]byte, error) {
	*xmlns = s3Namespace
	out, err := xml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", v, err)
	}
	return append([]byte(xml.Header), out...), nil
}

// errorDocument is the body of an S3 error response.
type errorDocument struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	RequestID  string   `xml:"RequestId"`
}
