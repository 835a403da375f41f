package rds

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The states of a DB instance the fake goes through.
const (
	statusCreating  = "creating"
	statusBackingUp = "backing-up"
	statusAvailable = "available"
	statusModifying = "modifying"
	statusDeleting  = "deleting"
)

// timeFormat is how RDS writes timestamps.
const timeFormat = "2006-01-02T15:04:05.000Z"

// hostedZoneID is the Route 53 zone of RDS endpoints in us-east-1; the fake
// uses it everywhere.
const hostedZoneID = "Z2R2ITUGPM61AM"

// engine describes what the fake knows of an engine.
type engine struct {
	// versions are the engine versions RDS offers, oldest first; the last
	// of each major version is its default.
	versions []string
	// defaultVersion is used when a request names none.
	defaultVersion string
	// majorParts is how many leading parts of a version make its major
	// version: 1 for PostgreSQL (16.4), 2 for MySQL (8.0.39).
	majorParts  int
	port        int32
	license     string
	maxUserLen  int
	maxDBName   int
	maxPassword int
	paramGroup  func(version string) string
}

var engines = map[string]engine{
	"postgres": {
		versions:       []string{"13.20", "13.21", "14.17", "14.18", "15.12", "15.13", "16.8", "16.9", "17.4", "17.5"},
		defaultVersion: "17.5",
		majorParts:     1,
		port:           5432,
		license:        "postgresql-license",
		maxUserLen:     63,
		maxDBName:      63,
		maxPassword:    128,
		paramGroup:     func(v string) string { return "default.postgres" + majorOf(v, 1) },
	},
	"mysql": {
		versions:       []string{"8.0.40", "8.0.41", "8.0.42", "8.4.4", "8.4.5"},
		defaultVersion: "8.0.42",
		majorParts:     2,
		port:           3306,
		license:        "general-public-license",
		maxUserLen:     32,
		maxDBName:      64,
		maxPassword:    41,
		paramGroup:     func(v string) string { return "default.mysql" + majorOf(v, 2) },
	},
}

// majorOf returns the first parts of a version.
func majorOf(version string, parts int) string {
	p := strings.Split(version, ".")
	return strings.Join(p[:min(parts, len(p))], ".")
}

// resolveVersion returns the full version a request's EngineVersion stands
// for: the version itself, or the default minor version of a major version.
func (e engine) resolveVersion(v string) (string, bool) {
	if v == "" {
		return e.defaultVersion, true
	}
	found := ""
	for _, known := range e.versions {
		if known == v {
			return v, true
		}
		if majorOf(known, e.majorParts) == v {
			found = known
		}
	}
	return found, found != ""
}

// compareVersions compares dotted numeric versions.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// instanceClasses are the classes the fake accepts.
var instanceClasses = map[string]bool{}

func init() {
	for family, sizes := range map[string][]string{
		"db.t3":  {"micro", "small", "medium", "large", "xlarge", "2xlarge"},
		"db.t4g": {"micro", "small", "medium", "large", "xlarge", "2xlarge"},
		"db.m5":  {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"},
		"db.m6g": {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"},
		"db.m6i": {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge"},
		"db.m7g": {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"},
		"db.r5":  {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"},
		"db.r6g": {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"},
		"db.r7g": {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"},
	} {
		for _, s := range sizes {
			instanceClasses[family+"."+s] = true
		}
	}
}

// storageTypes are the storage types the fake accepts, with their size
// limits in GiB for PostgreSQL and MySQL.
var storageTypes = map[string][2]int32{
	"gp2":      {20, 65536},
	"gp3":      {20, 65536},
	"io1":      {100, 65536},
	"io2":      {100, 65536},
	"standard": {5, 3072},
}

// pending are modifications not yet applied.
type pending struct {
	class           *string
	storage         *int32
	backupRetention *int32
	multiAZ         *bool
	engineVersion   *string
	password        *[32]byte
}

func (p pending) empty() bool {
	return p.class == nil && p.storage == nil && p.backupRetention == nil && p.multiAZ == nil && p.engineVersion == nil && p.password == nil
}

// instance is a DB instance.
type instance struct {
	id, region, account string
	resourceID          string
	engine              string
	engineVersion       string
	class               string
	storage             int32
	storageType         string
	backupRetention     int32
	multiAZ             bool
	public              bool
	deletionProtection  bool
	encrypted           bool
	kmsKeyID            string
	copyTags            bool
	autoMinorUpgrade    bool
	masterUsername      string
	dbName              string
	password            [32]byte // a SHA-256 of the master password
	port                int32
	created             time.Time
	tags                []tagXML

	status    string
	since     time.Time // when the status was entered
	describes int       // DescribeDBInstances answers that showed the status
	pending   pending
	// pendingNow says that the pending modifications are applied when the
	// modifying state ends (ApplyImmediately), not in the maintenance
	// window.
	pendingNow     bool
	lastRestorable time.Time
}

func instanceKey(region, id string) string { return region + "/" + strings.ToLower(id) }

// transitional reports whether the instance is in a state that ends by
// itself.
func (in *instance) transitional() bool {
	switch in.status {
	case statusCreating, statusBackingUp, statusModifying, statusDeleting:
		return true
	}
	return false
}

func (in *instance) setStatus(status string, at time.Time) {
	in.status, in.since, in.describes = status, at, 0
}

// step ends the current transitional state at time at, and reports whether
// the instance is gone.
func (in *instance) step(at time.Time) (gone bool) {
	switch in.status {
	case statusCreating:
		in.pending.password = nil // set at creation, shown as pending until then
		if in.backupRetention > 0 {
			in.setStatus(statusBackingUp, at)
		} else {
			in.setStatus(statusAvailable, at)
		}
	case statusBackingUp:
		in.lastRestorable = at
		in.setStatus(statusAvailable, at)
	case statusModifying:
		if in.pending.password != nil {
			in.password = *in.pending.password
			in.pending.password = nil
		}
		if in.pendingNow {
			in.applyPending()
		}
		in.setStatus(statusAvailable, at)
	case statusDeleting:
		return true
	}
	return false
}

// applyPending applies every pending modification.
func (in *instance) applyPending() {
	p := in.pending
	if p.class != nil {
		in.class = *p.class
	}
	if p.storage != nil {
		in.storage = *p.storage
	}
	if p.backupRetention != nil {
		in.backupRetention = *p.backupRetention
	}
	if p.multiAZ != nil {
		in.multiAZ = *p.multiAZ
	}
	if p.engineVersion != nil {
		in.engineVersion = *p.engineVersion
	}
	if p.password != nil {
		in.password = *p.password
	}
	in.pending, in.pendingNow = pending{}, false
}

// Effective values: pending changes applied.
func (in *instance) effectiveClass() string {
	if in.pending.class != nil {
		return *in.pending.class
	}
	return in.class
}

func (in *instance) effectiveStorage() int32 {
	if in.pending.storage != nil {
		return *in.pending.storage
	}
	return in.storage
}

func (in *instance) effectiveBackupRetention() int32 {
	if in.pending.backupRetention != nil {
		return *in.pending.backupRetention
	}
	return in.backupRetention
}

func (in *instance) effectiveMultiAZ() bool {
	if in.pending.multiAZ != nil {
		return *in.pending.multiAZ
	}
	return in.multiAZ
}

func (in *instance) effectiveEngineVersion() string {
	if in.pending.engineVersion != nil {
		return *in.pending.engineVersion
	}
	return in.engineVersion
}

func (in *instance) arn() string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", in.region, in.account, in.id)
}

// address is the instance's DNS name, shaped like RDS's:
// <id>.<12 characters unique to the account and region>.<region>.rds.amazonaws.com.
func (in *instance) address() string {
	sum := sha256.Sum256([]byte(in.account + "/" + in.region))
	return fmt.Sprintf("%s.c%s.%s.rds.amazonaws.com", in.id, hex.EncodeToString(sum[:])[:11], in.region)
}

// xml describes the instance as RDS does.
func (in *instance) xml() dbInstanceXML {
	x := dbInstanceXML{
		DBInstanceIdentifier:       in.id,
		DBInstanceClass:            in.class,
		Engine:                     in.engine,
		DBInstanceStatus:           in.status,
		MasterUsername:             in.masterUsername,
		DBName:                     in.dbName,
		AllocatedStorage:           in.storage,
		PreferredBackupWindow:      "03:00-03:30",
		BackupRetentionPeriod:      in.backupRetention,
		VpcSecurityGroups:          []vpcSecurityGroupXML{{VpcSecurityGroupID: "sg-0fa4e1c0ffee00001", Status: "active"}},
		DBParameterGroups:          []parameterGroupXML{{DBParameterGroupName: engines[in.engine].paramGroup(in.engineVersion), ParameterApplyStatus: "in-sync"}},
		AvailabilityZone:           in.region + "a",
		PreferredMaintenanceWindow: "sun:05:00-sun:05:30",
		MultiAZ:                    in.multiAZ,
		EngineVersion:              in.engineVersion,
		AutoMinorVersionUpgrade:    in.autoMinorUpgrade,
		LicenseModel:               engines[in.engine].license,
		PubliclyAccessible:         in.public,
		StorageType:                in.storageType,
		StorageEncrypted:           in.encrypted,
		KmsKeyID:                   in.kmsKeyID,
		DbiResourceID:              in.resourceID,
		CACertificateIdentifier:    "rds-ca-rsa2048-g1",
		CopyTagsToSnapshot:         in.copyTags,
		DBInstanceArn:              in.arn(),
		DeletionProtection:         in.deletionProtection,
		TagList:                    append([]tagXML(nil), in.tags...),
		BackupTarget:               "region",
		NetworkType:                "IPV4",
	}
	if in.storageType == "gp3" {
		x.StorageThroughput, x.Iops = 125, 3000
	}
	if in.status != statusCreating {
		// RDS has no endpoint and no creation time for an instance until
		// it is created.
		x.Endpoint = &endpointXML{Address: in.address(), Port: in.port, HostedZoneID: hostedZoneID}
		x.InstanceCreateTime = in.created.Format(timeFormat)
	}
	if !in.lastRestorable.IsZero() {
		x.LatestRestorableTime = in.lastRestorable.Format(timeFormat)
	}
	p := in.pending
	if p.class != nil {
		x.PendingModifiedValues.DBInstanceClass = *p.class
	}
	x.PendingModifiedValues.AllocatedStorage = p.storage
	x.PendingModifiedValues.BackupRetentionPeriod = p.backupRetention
	x.PendingModifiedValues.MultiAZ = p.multiAZ
	if p.engineVersion != nil {
		x.PendingModifiedValues.EngineVersion = *p.engineVersion
	}
	if p.password != nil {
		x.PendingModifiedValues.MasterUserPassword = "****"
	}
	return x
}

// Instance is the state of a DB instance, for tests.
type Instance struct {
	Identifier            string
	Region                string
	ARN                   string
	Status                string
	Engine                string
	EngineVersion         string
	Class                 string
	AllocatedStorage      int32
	StorageType           string
	BackupRetentionPeriod int32
	MultiAZ               bool
	PubliclyAccessible    bool
	DeletionProtection    bool
	StorageEncrypted      bool
	MasterUsername        string
	DBName                string
	// Address and Port are the endpoint, empty while creating.
	Address string
	Port    int32
	Pending PendingValues
	Tags    map[string]string
}

// PendingValues are modifications not yet applied.
type PendingValues struct {
	Class                 string
	EngineVersion         string
	AllocatedStorage      *int32
	BackupRetentionPeriod *int32
	MultiAZ               *bool
	// MasterUserPassword is true when a password change is pending.
	MasterUserPassword bool
}

// Snapshot is a final snapshot DeleteDBInstance took.
type Snapshot struct {
	Identifier           string
	DBInstanceIdentifier string
	Region               string
	Engine               string
	EngineVersion        string
	AllocatedStorage     int32
	Created              time.Time
}

func (in *instance) export() Instance {
	out := Instance{
		Identifier:            in.id,
		Region:                in.region,
		ARN:                   in.arn(),
		Status:                in.status,
		Engine:                in.engine,
		EngineVersion:         in.engineVersion,
		Class:                 in.class,
		AllocatedStorage:      in.storage,
		StorageType:           in.storageType,
		BackupRetentionPeriod: in.backupRetention,
		MultiAZ:               in.multiAZ,
		PubliclyAccessible:    in.public,
		DeletionProtection:    in.deletionProtection,
		StorageEncrypted:      in.encrypted,
		MasterUsername:        in.masterUsername,
		DBName:                in.dbName,
		Tags:                  map[string]string{},
	}
	if in.status != statusCreating {
		out.Address, out.Port = in.address(), in.port
	}
	p := in.pending
	if p.class != nil {
		out.Pending.Class = *p.class
	}
	if p.engineVersion != nil {
		out.Pending.EngineVersion = *p.engineVersion
	}
	out.Pending.AllocatedStorage = clonePtr(p.storage)
	out.Pending.BackupRetentionPeriod = clonePtr(p.backupRetention)
	out.Pending.MultiAZ = clonePtr(p.multiAZ)
	out.Pending.MasterUserPassword = p.password != nil
	for _, t := range in.tags {
		out.Tags[t.Key] = t.Value
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// setTags adds tags, replacing the values of keys the instance has.
func (in *instance) setTags(tags []tagXML) {
	for _, t := range tags {
		replaced := false
		for i := range in.tags {
			if in.tags[i].Key == t.Key {
				in.tags[i].Value, replaced = t.Value, true
			}
		}
		if !replaced {
			in.tags = append(in.tags, t)
		}
	}
}

// validIdentifier reports whether s is a valid DB instance or snapshot
// identifier: ASCII letters, digits and hyphens, starting with a letter,
// not ending with a hyphen nor holding two in a row, at most maxLen long.
func validIdentifier(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen || !isLetter(s[0]) || strings.HasSuffix(s, "-") || strings.Contains(s, "--") {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// validName reports whether s is a valid master user or database name:
// ASCII letters, digits and underscores, starting with a letter.
func validName(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen || !isLetter(s[0]) {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// validPassword reports why a master password is refused, or "".
func validPassword(p string, maxLen int) string {
	switch {
	case len(p) < 8:
		return "The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters."
	case len(p) > maxLen:
		return fmt.Sprintf("The parameter MasterUserPassword is not a valid password because it is longer than %d characters.", maxLen)
	}
	for i := range len(p) {
		if c := p[i]; c < 0x21 || c > 0x7e || c == '/' || c == '"' || c == '@' {
			return `The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '"', ' ' may be used.`
		}
	}
	return ""
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// reservedNames are names RDS keeps for itself.
var reservedNames = map[string]bool{"rdsadmin": true, "rdsrepladmin": true, "rds_superuser": true, "rdstopmgr": true}
