package aws

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// Defaults of a Database on RDS, for spec fields that are not set.
const (
	DefaultRDSSizeClass       = databasev1alpha1.SizeSmall
	DefaultRDSStorageGB       = int32(20)
	DefaultRDSBackupRetention = int32(7)
	DefaultRDSMasterUsername  = "stratus_admin"
)

// rdsStorageType is the storage type of the instances the driver creates.
const rdsStorageType = "gp3"

// rdsSSLMode is the libpq sslmode of the connection details: RDS accepts TLS
// on every instance.
const rdsSSLMode = "require"

// maxRDSIdentifierLength is the longest DB instance identifier RDS accepts.
const maxRDSIdentifierLength = 63

// rdsInstanceClasses maps the portable size classes to instance classes:
// burstable Graviton for Small, general-purpose Graviton above.
var rdsInstanceClasses = map[databasev1alpha1.SizeClass]string{
	databasev1alpha1.SizeSmall:  "db.t4g.small",
	databasev1alpha1.SizeMedium: "db.m6g.large",
	databasev1alpha1.SizeLarge:  "db.m6g.xlarge",
	databasev1alpha1.SizeXLarge: "db.m6g.2xlarge",
}

// rdsEngine is what the driver needs to know of an RDS engine.
type rdsEngine struct {
	name string // RDS's Engine
	port int32  // the default port
	// majorParts is how many leading parts of a version make its major
	// version: 1 for PostgreSQL (16.4), 2 for MySQL (8.0.39).
	majorParts int
	// maxUser and maxDBName are the longest master user and database names.
	maxUser, maxDBName int
	// uriScheme is the connection URI's scheme, and uriQuery its query
	// (nil: sslmode=require).
	uriScheme string
	uriQuery  url.Values
}

var rdsEngines = map[databasev1alpha1.Engine]rdsEngine{
	databasev1alpha1.EnginePostgres: {name: "postgres", port: 5432, majorParts: 1, maxUser: 63, maxDBName: 63, uriScheme: "postgresql"},
	databasev1alpha1.EngineMySQL:    {name: "mysql", port: 3306, majorParts: 2, maxUser: 32, maxDBName: 64, uriScheme: "mysql", uriQuery: url.Values{"ssl-mode": {"REQUIRED"}}},
}

// rdsReservedNames are names RDS keeps for itself.
var rdsReservedNames = map[string]bool{"rdsadmin": true, "rdsrepladmin": true, "rds_superuser": true, "rdstopmgr": true}

// Spec fields the driver compares with the instance.
const (
	fieldEngine             = "spec.engine"
	fieldDatabaseName       = "spec.databaseName"
	fieldDBOwner            = "spec.owner"
	fieldStorageEncrypted   = "spec.storageEncrypted"
	fieldSizeClass          = "spec.sizeClass"
	fieldStorageGB          = "spec.storageGB"
	fieldBackupRetention    = "spec.backupRetentionDays"
	fieldHighAvailability   = "spec.highAvailability"
	fieldPubliclyAccessible = "spec.publiclyAccessible"
	fieldDeletionProtection = "spec.deletionProtection"
	fieldEngineVersion      = "spec.engineVersion"
)

// instanceSettings are the RDS settings a Database stands for, defaults
// applied.
type instanceSettings struct {
	identifier         string
	engine             rdsEngine
	engineVersion      string // empty: RDS's default
	sizeClass          databasev1alpha1.SizeClass
	class              string
	storageGB          int32
	backupRetention    int32
	multiAZ            bool
	encrypted          bool
	public             bool
	deletionProtection bool
	dbName             string
	masterUsername     string
}

// instanceIdentifier maps an external name to a DB instance identifier:
// lowercase, with '_' made '-'. RDS identifiers hold ASCII letters, digits
// and hyphens, start with a letter, neither end with a hyphen nor hold two in
// a row, and have at most 63 characters; a name that does not map to one is
// a terminal error.
func instanceIdentifier(externalName string) (string, error) {
	id := strings.ReplaceAll(strings.ToLower(externalName), "_", "-")
	valid := id != "" && len(id) <= maxRDSIdentifierLength && id[0] >= 'a' && id[0] <= 'z' &&
		!strings.HasSuffix(id, "-") && !strings.Contains(id, "--")
	for i := 0; valid && i < len(id); i++ {
		c := id[i]
		valid = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !valid {
		return "", driver.Terminalf("external name %q cannot be an RDS instance identifier (it maps to %q): identifiers have at most %d ASCII letters, digits and hyphens ('_' becomes '-'), start with a letter, and neither end with a hyphen nor hold two in a row; set spec.databaseName or the %s annotation to a name that does",
			externalName, id, maxRDSIdentifierLength, stratusv1alpha1.AnnotationExternalName)
	}
	return id, nil
}

// settingsFor returns the RDS settings of a Database whose external name is
// externalName.
func settingsFor(db *databasev1alpha1.Database, externalName string) (instanceSettings, error) {
	id, err := instanceIdentifier(externalName)
	if err != nil {
		return instanceSettings{}, err
	}
	spec := db.Spec
	engineName := spec.Engine
	if engineName == "" {
		engineName = databasev1alpha1.EnginePostgres
	}
	eng, ok := rdsEngines[engineName]
	if !ok {
		return instanceSettings{}, driver.Terminalf("spec.engine %q is not an engine the RDS driver manages: set it to %s or %s",
			engineName, databasev1alpha1.EnginePostgres, databasev1alpha1.EngineMySQL)
	}
	size := spec.SizeClass
	if size == "" {
		size = DefaultRDSSizeClass
	}
	class, ok := rdsInstanceClasses[size]
	if !ok {
		return instanceSettings{}, driver.Terminalf("spec.sizeClass %q is not a size class: set it to Small, Medium, Large or XLarge", size)
	}
	s := instanceSettings{
		identifier:         id,
		engine:             eng,
		engineVersion:      spec.EngineVersion,
		sizeClass:          size,
		class:              class,
		storageGB:          valueOr(spec.StorageGB, DefaultRDSStorageGB),
		backupRetention:    valueOr(spec.BackupRetentionDays, DefaultRDSBackupRetention),
		multiAZ:            valueOr(spec.HighAvailability, false),
		encrypted:          valueOr(spec.StorageEncrypted, true),
		public:             valueOr(spec.PubliclyAccessible, false),
		deletionProtection: spec.DeletionProtection,
		dbName:             spec.DatabaseName,
		masterUsername:     spec.Owner,
	}
	if s.dbName == "" {
		s.dbName = externalName
	}
	if s.masterUsername == "" {
		s.masterUsername = DefaultRDSMasterUsername
	}
	return s, nil
}

func valueOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// validateNames rejects a database or master user name RDS would refuse,
// before any call: names start with a letter and hold ASCII letters, digits
// and underscores.
func (s instanceSettings) validateNames() error {
	if !validRDSName(s.dbName, s.engine.maxDBName) {
		return driver.Terminalf("database name %q (spec.databaseName, else the external name) cannot be an RDS database name: it must start with a letter, hold only ASCII letters, digits and underscores, and have at most %d characters for %s; set spec.databaseName to such a name",
			s.dbName, s.engine.maxDBName, s.engine.name)
	}
	if !validRDSName(s.masterUsername, s.engine.maxUser) {
		return driver.Terminalf("spec.owner %q cannot be an RDS master user name: it must start with a letter, hold only ASCII letters, digits and underscores, and have at most %d characters for %s; set spec.owner to such a name",
			s.masterUsername, s.engine.maxUser, s.engine.name)
	}
	if rdsReservedNames[strings.ToLower(s.masterUsername)] || rdsReservedNames[strings.ToLower(s.dbName)] {
		return driver.Terminalf("%q and %q: RDS reserves the names %s for itself; set spec.owner and spec.databaseName to other names",
			s.masterUsername, s.dbName, "rdsadmin, rdsrepladmin, rds_superuser and rdstopmgr")
	}
	return nil
}

func validRDSName(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// observedInstance is what the driver reads of an instance, with its
// pending modifications: the values RDS will have once they are applied.
type observedInstance struct {
	status             string
	engine             string
	engineVersion      string
	class              string
	storageGB          int32
	backupRetention    int32
	multiAZ            bool
	encrypted          bool
	public             bool
	deletionProtection bool
	dbName             string
	masterUsername     string
	address            string
	port               int32

	// Pending values, set when a modification is waiting to be applied.
	pendingEngineVersion   string
	pendingClass           string
	pendingStorageGB       *int32
	pendingBackupRetention *int32
	pendingMultiAZ         *bool
}

func readInstance(in types.DBInstance) observedInstance {
	o := observedInstance{
		status:             aws.ToString(in.DBInstanceStatus),
		engine:             aws.ToString(in.Engine),
		engineVersion:      aws.ToString(in.EngineVersion),
		class:              aws.ToString(in.DBInstanceClass),
		storageGB:          aws.ToInt32(in.AllocatedStorage),
		backupRetention:    aws.ToInt32(in.BackupRetentionPeriod),
		multiAZ:            aws.ToBool(in.MultiAZ),
		encrypted:          aws.ToBool(in.StorageEncrypted),
		public:             aws.ToBool(in.PubliclyAccessible),
		deletionProtection: aws.ToBool(in.DeletionProtection),
		dbName:             aws.ToString(in.DBName),
		masterUsername:     aws.ToString(in.MasterUsername),
	}
	if ep := in.Endpoint; ep != nil {
		o.address, o.port = aws.ToString(ep.Address), aws.ToInt32(ep.Port)
	}
	if p := in.PendingModifiedValues; p != nil {
		o.pendingEngineVersion = aws.ToString(p.EngineVersion)
		o.pendingClass = aws.ToString(p.DBInstanceClass)
		o.pendingStorageGB = p.AllocatedStorage
		o.pendingBackupRetention = p.BackupRetentionPeriod
		o.pendingMultiAZ = p.MultiAZ
	}
	return o
}

// Effective values: the pending value when there is one.
func (o observedInstance) effectiveClass() string {
	if o.pendingClass != "" {
		return o.pendingClass
	}
	return o.class
}

func (o observedInstance) effectiveEngineVersion() string {
	if o.pendingEngineVersion != "" {
		return o.pendingEngineVersion
	}
	return o.engineVersion
}

// fieldComparison is one spec field compared with the instance.
type fieldComparison struct {
	field             string
	drifted           bool
	desired, observed string
	// immutable fields cannot be modified: a drift is a terminal error.
	immutable bool
}

// compareInstance compares the settings with the instance, field by field, in a
// fixed order: the immutable fields first. A field whose pending value
// matches the spec is not drifted: RDS is applying the change.
func compareInstance(s instanceSettings, o observedInstance) []fieldComparison {
	withPending := func(current, pending string) string {
		if pending != "" && pending != current {
			return current + " (pending " + pending + ")"
		}
		return current
	}
	pendingInt := func(current int32, pending *int32) (int32, string) {
		if pending == nil {
			return current, strconv.Itoa(int(current))
		}
		return *pending, withPending(strconv.Itoa(int(current)), strconv.Itoa(int(*pending)))
	}
	pendingBool := func(current bool, pending *bool) (bool, string) {
		if pending == nil {
			return current, strconv.FormatBool(current)
		}
		return *pending, withPending(strconv.FormatBool(current), strconv.FormatBool(*pending))
	}
	storage, storageText := pendingInt(o.storageGB, o.pendingStorageGB)
	retention, retentionText := pendingInt(o.backupRetention, o.pendingBackupRetention)
	multiAZ, multiAZText := pendingBool(o.multiAZ, o.pendingMultiAZ)
	version := o.effectiveEngineVersion()

	return []fieldComparison{
		{field: fieldEngine, immutable: true, drifted: o.engine != s.engine.name, desired: s.engine.name, observed: o.engine},
		{field: fieldDatabaseName, immutable: true, drifted: o.dbName != s.dbName, desired: s.dbName, observed: o.dbName},
		{field: fieldDBOwner, immutable: true, drifted: o.masterUsername != s.masterUsername, desired: s.masterUsername, observed: o.masterUsername},
		{field: fieldStorageEncrypted, immutable: true, drifted: o.encrypted != s.encrypted, desired: strconv.FormatBool(s.encrypted), observed: strconv.FormatBool(o.encrypted)},
		{field: fieldSizeClass, drifted: o.effectiveClass() != s.class, desired: describeClass(s.class), observed: withPending(describeClass(o.class), describeClass(o.pendingClass))},
		{field: fieldStorageGB, drifted: storage != s.storageGB, desired: strconv.Itoa(int(s.storageGB)), observed: storageText},
		{field: fieldBackupRetention, drifted: retention != s.backupRetention, desired: strconv.Itoa(int(s.backupRetention)), observed: retentionText},
		{field: fieldHighAvailability, drifted: multiAZ != s.multiAZ, desired: strconv.FormatBool(s.multiAZ), observed: multiAZText},
		{field: fieldPubliclyAccessible, drifted: o.public != s.public, desired: strconv.FormatBool(s.public), observed: strconv.FormatBool(o.public)},
		{field: fieldDeletionProtection, drifted: o.deletionProtection != s.deletionProtection, desired: strconv.FormatBool(s.deletionProtection), observed: strconv.FormatBool(o.deletionProtection)},
		{field: fieldEngineVersion, drifted: !versionMatches(s.engineVersion, version), desired: s.engineVersion, observed: withPending(o.engineVersion, o.pendingEngineVersion)},
	}
}

// instanceDrift returns the drifted fields.
func instanceDrift(s instanceSettings, o observedInstance) []stratusv1alpha1.DriftedField {
	var out []stratusv1alpha1.DriftedField
	for _, c := range compareInstance(s, o) {
		if c.drifted {
			out = append(out, stratusv1alpha1.DriftedField{Field: c.field, Desired: c.desired, Observed: c.observed})
		}
	}
	return out
}

// describeClass names an instance class with its size class, when it is one
// of the driver's: "Medium (db.m6g.large)".
func describeClass(class string) string {
	for size, c := range rdsInstanceClasses {
		if c == class {
			return string(size) + " (" + class + ")"
		}
	}
	return class
}

// versionMatches reports whether an instance's engine version is the spec's:
// equal, or a minor version of it ("16.4" is "16"). An empty spec matches any
// version.
func versionMatches(want, have string) bool {
	return want == "" || have == want || strings.HasPrefix(have, want+".")
}

// compareVersions compares dotted numeric versions part by part, looking at
// as many parts as a has: "16" is equal to "16.4", "15" older.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range pa {
		x, _ := strconv.Atoi(pa[i])
		y := 0
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

// majorVersion returns the major version of a version.
func (e rdsEngine) majorVersion(v string) string {
	p := strings.Split(v, ".")
	return strings.Join(p[:min(e.majorParts, len(p))], ".")
}

// modifyInput returns the ModifyDBInstance request that brings the instance
// in line with the settings, applied immediately, or nil when nothing is to
// change. A difference RDS cannot change (an immutable field, smaller
// storage, an older engine version) is a terminal error, and nothing is
// changed.
func modifyInput(s instanceSettings, o observedInstance) (*rds.ModifyDBInstanceInput, error) {
	cmps := compareInstance(s, o)
	for _, c := range cmps {
		if c.drifted && c.immutable {
			return nil, immutableError(s, c)
		}
	}
	in := &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(s.identifier), ApplyImmediately: aws.Bool(true)}
	changed := false
	for _, c := range cmps {
		if !c.drifted {
			continue
		}
		changed = true
		switch c.field {
		case fieldSizeClass:
			in.DBInstanceClass = aws.String(s.class)
		case fieldStorageGB:
			if s.storageGB < o.storageGB {
				return nil, driver.Terminalf("spec.storageGB is %d but RDS instance %q has %d GiB allocated, and RDS cannot shrink storage: set spec.storageGB to %d or more",
					s.storageGB, s.identifier, o.storageGB, o.storageGB)
			}
			in.AllocatedStorage = aws.Int32(s.storageGB)
		case fieldBackupRetention:
			in.BackupRetentionPeriod = aws.Int32(s.backupRetention)
		case fieldHighAvailability:
			in.MultiAZ = aws.Bool(s.multiAZ)
		case fieldPubliclyAccessible:
			in.PubliclyAccessible = aws.Bool(s.public)
		case fieldDeletionProtection:
			in.DeletionProtection = aws.Bool(s.deletionProtection)
		case fieldEngineVersion:
			if compareVersions(s.engineVersion, o.engineVersion) < 0 {
				return nil, driver.Terminalf("spec.engineVersion %q is older than the version %s RDS instance %q runs, and RDS cannot downgrade an engine: set spec.engineVersion to %q or later",
					s.engineVersion, o.engineVersion, s.identifier, s.engine.majorVersion(o.engineVersion))
			}
			in.EngineVersion = aws.String(s.engineVersion)
			if s.engine.majorVersion(s.engineVersion) != s.engine.majorVersion(o.engineVersion) {
				in.AllowMajorVersionUpgrade = aws.Bool(true)
			}
		}
	}
	if !changed {
		return nil, nil
	}
	return in, nil
}

// immutableError explains a drift in a field RDS cannot change.
func immutableError(s instanceSettings, c fieldComparison) error {
	switch c.field {
	case fieldStorageEncrypted:
		if s.encrypted {
			return driver.Terminalf("spec.storageEncrypted is true but the storage of RDS instance %q is not encrypted, and RDS cannot encrypt an existing instance: set spec.storageEncrypted to false, or create a new Database and move the data to it (for example by restoring an encrypted copy of a snapshot)",
				s.identifier)
		}
		return driver.Terminalf("spec.storageEncrypted is false but the storage of RDS instance %q is encrypted, and RDS cannot decrypt an existing instance: set spec.storageEncrypted to true (the default)",
			s.identifier)
	case fieldDBOwner:
		return driver.Terminalf("spec.owner is %q but RDS instance %q was created with master user %q, which RDS cannot rename: set spec.owner to %q",
			c.desired, s.identifier, c.observed, c.observed)
	case fieldDatabaseName:
		return driver.Terminalf("the database name is %q but RDS instance %q was created with database %q, which RDS cannot rename: set spec.databaseName to %q",
			c.desired, s.identifier, c.observed, c.observed)
	default:
		return driver.Terminalf("%s is %q but RDS instance %q runs %q, which RDS cannot change: set %s to %q",
			c.field, c.desired, s.identifier, c.observed, c.field, c.observed)
	}
}
