package gcp

import (
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	sqladmin "google.golang.org/api/sqladmin/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// Defaults of the portable Database fields on Cloud SQL.
const (
	sqlDefaultSizeClass           = databasev1alpha1.SizeSmall
	sqlDefaultStorageGB           = 20
	sqlDefaultPostgresVersion     = "16"
	sqlDefaultMySQLVersion        = "8.0"
	sqlDefaultOwner               = "stratus_admin"
	sqlDefaultBackupRetentionDays = 7
	// sqlDefaultRegion is the region Cloud SQL itself picks when none is
	// given; the driver names it so that Observe can compare.
	sqlDefaultRegion = "us-central1"
)

// sqlEdition is the edition of the instances the driver creates: the
// custom tiers the size classes map to exist only in Enterprise, and
// without an explicit edition Cloud SQL makes PostgreSQL 16 and later
// Enterprise Plus, which refuses them.
const sqlEdition = "ENTERPRISE"

// sqlTiers are the Cloud SQL tiers of the size classes: custom machine
// types with 3.75 GB of memory per vCPU.
var sqlTiers = map[databasev1alpha1.SizeClass]string{
	databasev1alpha1.SizeSmall:  "db-custom-1-3840",
	databasev1alpha1.SizeMedium: "db-custom-2-7680",
	databasev1alpha1.SizeLarge:  "db-custom-4-15360",
	databasev1alpha1.SizeXLarge: "db-custom-8-30720",
}

// Cloud SQL values the driver reads and writes.
const (
	sqlStateRunnable      = "RUNNABLE"
	sqlStatePendingDelete = "PENDING_DELETE"
	sqlZonal              = "ZONAL"
	sqlRegional           = "REGIONAL"
	sqlRetentionCount     = "COUNT"
	sqlSSLEncryptedOnly   = "ENCRYPTED_ONLY"
	sqlAddressPrimary     = "PRIMARY"
	sqlAddressPrivate     = "PRIVATE"
	sqlPostgresPrefix     = "POSTGRES_"
	sqlMySQLPrefix        = "MYSQL_"
	sqlPostgresPort       = 5432
	sqlMySQLPort          = 3306
	sqlPostgresSSLMode    = "require"
	sqlMySQLAnyHost       = "%"
)

// Limits of Cloud SQL names.
const (
	sqlMaxInstanceName  = 98
	sqlMaxPostgresIdent = 63
	sqlMaxMySQLDatabase = 64
	sqlMaxMySQLUser     = 32
)

// The spec fields Observe compares.
const (
	sqlFieldEngineVersion       = "spec.engineVersion"
	sqlFieldSizeClass           = "spec.sizeClass"
	sqlFieldStorageGB           = "spec.storageGB"
	sqlFieldHighAvailability    = "spec.highAvailability"
	sqlFieldBackupRetentionDays = "spec.backupRetentionDays"
	sqlFieldDeletionProtection  = "spec.deletionProtection"
	sqlFieldPubliclyAccessible  = "spec.publiclyAccessible"
	sqlFieldDatabaseName        = "spec.databaseName"
	sqlFieldOwner               = "spec.owner"
)

// sqlMissing is the observed value of a database or user that does not
// exist.
const sqlMissing = "(does not exist)"

// sqlInstanceNamePattern is Cloud SQL's rule for instance names.
var sqlInstanceNamePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// Names Cloud SQL keeps for itself, which the driver must not manage.
var (
	sqlReservedPostgresUsers = []string{"postgres", "cloudsqladmin", "cloudsqlagent", "cloudsqlsuperuser", "cloudsqliamuser", "cloudsqliamserviceaccount", "cloudsqlreplica", "cloudsqlimportexport"}
	sqlReservedMySQLUsers    = []string{"root", "mysql.sys", "mysql.session", "mysql.infoschema", "cloudsqlreplica", "cloudsqlimport", "cloudsqlexport"}
	sqlReservedPostgresDBs   = []string{"postgres", "cloudsqladmin", "template0", "template1"}
	sqlReservedMySQLDBs      = []string{"mysql", "sys", "information_schema", "performance_schema"}
)

// sqlTarget is what a Database asks of Cloud SQL: the instance, the
// database in it and its owner, with every default applied.
type sqlTarget struct {
	instance string
	database string
	owner    string
	region   string
	engine   databasev1alpha1.Engine
	// version is the databaseVersion, such as POSTGRES_16; versionSet says
	// that spec.engineVersion names it, and only then is it compared: an
	// adopted instance is not upgraded to the default version.
	version    string
	versionSet bool
	sizeClass  databasev1alpha1.SizeClass
	tier       string
	storageGB  int64
	// highAvailability is a REGIONAL instance.
	highAvailability bool
	// backupDays is the number of daily backups kept; 0 disables backups.
	backupDays         int64
	deletionProtection bool
	public             bool
	privateNetwork     string
}

// sqlTargetFor validates a Database and returns what it asks of Cloud SQL.
// It needs no API call; its errors are terminal.
func sqlTargetFor(db *databasev1alpha1.Database, externalName, region string, o sqlOptions) (sqlTarget, error) {
	spec := &db.Spec
	t := sqlTarget{
		engine:             spec.Engine,
		region:             region,
		sizeClass:          spec.SizeClass,
		storageGB:          sqlDefaultStorageGB,
		backupDays:         sqlDefaultBackupRetentionDays,
		deletionProtection: spec.DeletionProtection,
		public:             true,
		privateNetwork:     o.privateNetwork,
	}
	if t.engine == "" {
		t.engine = databasev1alpha1.EnginePostgres
	}
	if t.region == "" {
		t.region = sqlDefaultRegion
	}
	if spec.StorageEncrypted != nil && !*spec.StorageEncrypted {
		return sqlTarget{}, driver.Terminalf("Cloud SQL always encrypts storage at rest and cannot honour spec.storageEncrypted false: remove it or set it to true")
	}
	version, err := sqlDatabaseVersion(t.engine, spec.EngineVersion)
	if err != nil {
		return sqlTarget{}, err
	}
	t.version, t.versionSet = version, spec.EngineVersion != ""
	if t.sizeClass == "" {
		t.sizeClass = sqlDefaultSizeClass
	}
	tier, ok := sqlTiers[t.sizeClass]
	if !ok {
		return sqlTarget{}, driver.Terminalf("spec.sizeClass %q is not one of Small, Medium, Large and XLarge", t.sizeClass)
	}
	t.tier = tier
	if spec.StorageGB != nil {
		t.storageGB = int64(*spec.StorageGB)
	}
	if spec.HighAvailability != nil {
		t.highAvailability = *spec.HighAvailability
	}
	if spec.BackupRetentionDays != nil {
		t.backupDays = int64(*spec.BackupRetentionDays)
	}
	if spec.PubliclyAccessible != nil {
		t.public = *spec.PubliclyAccessible
	}
	if !t.public && t.privateNetwork == "" {
		return sqlTarget{}, driver.Terminalf("spec.publiclyAccessible is false, but a Cloud SQL instance without a public address needs a private network, and the driver has none configured (see WithCloudSQLPrivateNetwork): remove spec.publiclyAccessible, or configure the operator with the VPC network to use")
	}
	if err := t.setNames(db, externalName); err != nil {
		return sqlTarget{}, err
	}
	return t, nil
}

// setNames sets and checks the instance, database and owner names.
func (t *sqlTarget) setNames(db *databasev1alpha1.Database, externalName string) error {
	if externalName == "" {
		return driver.Terminalf("the database has no external name: set spec.databaseName or the %s annotation", stratusv1alpha1.AnnotationExternalName)
	}
	var err error
	if t.instance, err = sqlCloudName(externalName); err != nil {
		return err
	}
	t.database = db.Spec.DatabaseName
	if t.database == "" {
		t.database = externalName
	}
	t.owner = db.Spec.Owner
	if t.owner == "" {
		t.owner = sqlDefaultOwner
	}
	maxDB, maxUser := sqlMaxPostgresIdent, sqlMaxPostgresIdent
	reservedDBs, reservedUsers := sqlReservedPostgresDBs, sqlReservedPostgresUsers
	if t.engine == databasev1alpha1.EngineMySQL {
		maxDB, maxUser = sqlMaxMySQLDatabase, sqlMaxMySQLUser
		reservedDBs, reservedUsers = sqlReservedMySQLDBs, sqlReservedMySQLUsers
	}
	switch {
	case len(t.database) > maxDB:
		return driver.Terminalf("the database name %q is longer than %d characters: set spec.databaseName to a shorter name", t.database, maxDB)
	case slices.Contains(reservedDBs, t.database):
		return driver.Terminalf("database %q is one Cloud SQL creates for itself, which the driver does not manage: set spec.databaseName to another name", t.database)
	case len(t.owner) > maxUser:
		return driver.Terminalf("spec.owner %q is longer than the %d characters %s allows: set a shorter name", t.owner, maxUser, t.engine)
	case slices.Contains(reservedUsers, t.owner) || t.engine == databasev1alpha1.EnginePostgres && strings.HasPrefix(t.owner, "pg_"):
		return driver.Terminalf("spec.owner %q is a user Cloud SQL keeps for itself, whose password the driver must not manage: set spec.owner to another name", t.owner)
	}
	return nil
}

// sqlInstanceName returns the instance name of an external name ('_' made
// '-'), and whether it is a valid Cloud SQL instance name.
func sqlInstanceName(externalName string) (string, bool) {
	name := strings.ReplaceAll(externalName, "_", "-")
	return name, len(name) <= sqlMaxInstanceName && sqlInstanceNamePattern.MatchString(name)
}

// sqlCloudName is sqlInstanceName with a terminal error, saying what to do,
// for an external name that makes no valid instance name: the driver's
// Registration.CloudName.
func sqlCloudName(externalName string) (string, error) {
	name, ok := sqlInstanceName(externalName)
	if !ok {
		return name, driver.Terminalf("the Cloud SQL instance name %q (the external name %q with '_' made '-') is not valid: Cloud SQL instance names are lowercase letters, digits and hyphens, start with a letter, do not end with a hyphen and have at most %d characters; set spec.databaseName or the %s annotation to such a name",
			name, externalName, sqlMaxInstanceName, stratusv1alpha1.AnnotationExternalName)
	}
	return name, nil
}

// sqlDatabaseVersion maps an engine and spec.engineVersion to Cloud SQL's
// databaseVersion: POSTGRES_<major> (default 16; 9.6 is POSTGRES_9_6) and
// MYSQL_<major>_<minor> (default 8.0). Versions Cloud SQL does not offer
// are left for the API to refuse.
func sqlDatabaseVersion(engine databasev1alpha1.Engine, v string) (string, error) {
	switch engine {
	case databasev1alpha1.EnginePostgres:
		if v == "" {
			v = sqlDefaultPostgresVersion
		}
		if v == "9.6" {
			return sqlPostgresPrefix + "9_6", nil
		}
		if _, err := strconv.Atoi(v); err != nil {
			return "", driver.Terminalf("spec.engineVersion %q is not a PostgreSQL major version: Cloud SQL chooses the minor version; set spec.engineVersion to the major version alone, such as %q", v, strings.Split(v, ".")[0])
		}
		return sqlPostgresPrefix + v, nil
	case databasev1alpha1.EngineMySQL:
		switch v {
		case "":
			v = sqlDefaultMySQLVersion
		case "8":
			v = "8.0"
		}
		major, minor, ok := strings.Cut(v, ".")
		if !ok || strings.Contains(minor, ".") {
			return "", driver.Terminalf("spec.engineVersion %q is not a MySQL version Cloud SQL offers: set it to a major and minor version, such as \"8.0\"", v)
		}
		return sqlMySQLPrefix + major + "_" + minor, nil
	}
	return "", driver.Terminalf("Cloud SQL cannot honour spec.engine %q: set it to postgres or mysql", engine)
}

// sqlEngineVersion returns the portable engineVersion of a databaseVersion:
// "16" for POSTGRES_16, "9.6" for POSTGRES_9_6, "8.0" for MYSQL_8_0.
func sqlEngineVersion(databaseVersion string) string {
	_, v, ok := strings.Cut(databaseVersion, "_")
	if !ok {
		return databaseVersion
	}
	return strings.ReplaceAll(v, "_", ".")
}

// engineMatches reports whether a databaseVersion is of the target's engine.
func (t sqlTarget) engineMatches(databaseVersion string) bool {
	if t.engine == databasev1alpha1.EngineMySQL {
		return strings.HasPrefix(databaseVersion, sqlMySQLPrefix)
	}
	return strings.HasPrefix(databaseVersion, sqlPostgresPrefix)
}

// port is the port of the target's engine.
func (t sqlTarget) port() int32 {
	if t.engine == databasev1alpha1.EngineMySQL {
		return sqlMySQLPort
	}
	return sqlPostgresPort
}

// userHost is the host of the owner user: none on PostgreSQL, any on MySQL.
func (t sqlTarget) userHost() string {
	if t.engine == databasev1alpha1.EngineMySQL {
		return sqlMySQLAnyHost
	}
	return ""
}

// newInstance is the instance instances.insert creates, labelled with
// owner's mark in settings.userLabels. Booleans are sent even when false
// (ForceSendFields): left out, Cloud SQL would apply its own defaults, such
// as a public address.
func (t sqlTarget) newInstance(owner driver.Owner) *sqladmin.DatabaseInstance {
	backups := &sqladmin.BackupConfiguration{Enabled: t.backupDays > 0, ForceSendFields: []string{"Enabled"}}
	if t.backupDays > 0 {
		backups.BackupRetentionSettings = &sqladmin.BackupRetentionSettings{RetainedBackups: t.backupDays, RetentionUnit: sqlRetentionCount}
	}
	ip := &sqladmin.IpConfiguration{Ipv4Enabled: t.public, SslMode: sqlSSLEncryptedOnly, ForceSendFields: []string{"Ipv4Enabled"}}
	if t.privateNetwork != "" {
		ip.PrivateNetwork = t.privateNetwork
	}
	return &sqladmin.DatabaseInstance{
		Name:            t.instance,
		DatabaseVersion: t.version,
		Region:          t.region,
		Settings: &sqladmin.Settings{
			Tier:                      t.tier,
			Edition:                   sqlEdition,
			DataDiskSizeGb:            t.storageGB,
			AvailabilityType:          t.availabilityType(),
			BackupConfiguration:       backups,
			DeletionProtectionEnabled: t.deletionProtection,
			IpConfiguration:           ip,
			UserLabels:                ownerLabels(owner),
			ForceSendFields:           []string{"DeletionProtectionEnabled"},
		},
	}
}

func (t sqlTarget) availabilityType() string {
	if t.highAvailability {
		return sqlRegional
	}
	return sqlZonal
}

// sqlSettings are the settings of an instance the driver compares.
type sqlSettings struct {
	tier               string
	storageGB          int64
	highAvailability   bool
	backupDays         int64
	deletionProtection bool
	public             bool
	privateNetwork     string
}

// sqlSettingsOf reads the settings the driver compares from an instance.
func sqlSettingsOf(in *sqladmin.DatabaseInstance) sqlSettings {
	var s sqlSettings
	st := in.Settings
	if st == nil {
		return s
	}
	s.tier = st.Tier
	s.storageGB = st.DataDiskSizeGb
	s.highAvailability = st.AvailabilityType == sqlRegional
	if b := st.BackupConfiguration; b != nil && b.Enabled {
		s.backupDays = sqlDefaultBackupRetentionDays // Cloud SQL's default
		if b.BackupRetentionSettings != nil && b.BackupRetentionSettings.RetainedBackups > 0 {
			s.backupDays = b.BackupRetentionSettings.RetainedBackups
		}
	}
	s.deletionProtection = st.DeletionProtectionEnabled
	if ip := st.IpConfiguration; ip != nil {
		s.public = ip.Ipv4Enabled
		s.privateNetwork = ip.PrivateNetwork
	}
	return s
}

// sqlSizeClassOf names a tier by its size class, or returns it as is.
func sqlSizeClassOf(tier string) string {
	for class, t := range sqlTiers {
		if t == tier {
			return string(class)
		}
	}
	return tier
}

// drift compares an instance's settings with the target. The storage is a
// minimum: Cloud SQL grows disks on its own (storage auto-resize) and
// cannot shrink them.
func (t sqlTarget) drift(in *sqladmin.DatabaseInstance) []stratusv1alpha1.DriftedField {
	var d []stratusv1alpha1.DriftedField
	add := func(field, desired, observed string) {
		d = append(d, stratusv1alpha1.DriftedField{Field: field, Desired: desired, Observed: observed})
	}
	s := sqlSettingsOf(in)
	if t.versionSet && in.DatabaseVersion != t.version {
		add(sqlFieldEngineVersion, sqlEngineVersion(t.version), sqlEngineVersion(in.DatabaseVersion))
	}
	if s.tier != t.tier {
		add(sqlFieldSizeClass, string(t.sizeClass), sqlSizeClassOf(s.tier))
	}
	if s.storageGB < t.storageGB {
		add(sqlFieldStorageGB, strconv.FormatInt(t.storageGB, 10), strconv.FormatInt(s.storageGB, 10))
	}
	if s.highAvailability != t.highAvailability {
		add(sqlFieldHighAvailability, strconv.FormatBool(t.highAvailability), strconv.FormatBool(s.highAvailability))
	}
	if s.backupDays != t.backupDays {
		add(sqlFieldBackupRetentionDays, strconv.FormatInt(t.backupDays, 10), strconv.FormatInt(s.backupDays, 10))
	}
	if s.deletionProtection != t.deletionProtection {
		add(sqlFieldDeletionProtection, strconv.FormatBool(t.deletionProtection), strconv.FormatBool(s.deletionProtection))
	}
	if s.public != t.public {
		add(sqlFieldPubliclyAccessible, strconv.FormatBool(t.public), strconv.FormatBool(s.public))
	}
	return d
}

// patch returns the instances.patch body that brings an instance in line
// with the target and owner's mark, or nil when it is. It holds only what
// changes: PATCH merges the fields it is sent, and a field sent as false or
// 0 must be forced into the JSON.
//
// PATCH merges settings.userLabels key by key (a label is removed only by
// sending it as null), so the instance's labels are sent as they are, with
// owner's mark over them: the labels stay, and only the mark changes. No
// label is ever removed.
func (t sqlTarget) patch(in *sqladmin.DatabaseInstance, owner driver.Owner) *sqladmin.DatabaseInstance {
	s := sqlSettingsOf(in)
	p := &sqladmin.DatabaseInstance{}
	st := &sqladmin.Settings{}
	changed := false // settings changed
	if t.versionSet && in.DatabaseVersion != t.version {
		p.DatabaseVersion = t.version
	}
	if s.tier != t.tier {
		st.Tier = t.tier
		changed = true
	}
	if s.storageGB < t.storageGB {
		st.DataDiskSizeGb = t.storageGB
		changed = true
	}
	if s.highAvailability != t.highAvailability {
		st.AvailabilityType = t.availabilityType()
		changed = true
	}
	if s.backupDays != t.backupDays {
		b := &sqladmin.BackupConfiguration{Enabled: t.backupDays > 0, ForceSendFields: []string{"Enabled"}}
		if t.backupDays > 0 {
			b.BackupRetentionSettings = &sqladmin.BackupRetentionSettings{RetainedBackups: t.backupDays, RetentionUnit: sqlRetentionCount}
		}
		st.BackupConfiguration = b
		changed = true
	}
	if s.deletionProtection != t.deletionProtection {
		st.DeletionProtectionEnabled = t.deletionProtection
		st.ForceSendFields = append(st.ForceSendFields, "DeletionProtectionEnabled")
		changed = true
	}
	if s.public != t.public {
		ip := &sqladmin.IpConfiguration{Ipv4Enabled: t.public, ForceSendFields: []string{"Ipv4Enabled"}}
		if !t.public && s.privateNetwork == "" {
			ip.PrivateNetwork = t.privateNetwork
		}
		st.IpConfiguration = ip
		changed = true
	}
	var current map[string]string
	if in.Settings != nil {
		current = in.Settings.UserLabels
	}
	if len(driver.OwnershipDrift(owner, driver.MarkFromLabels(current))) > 0 {
		labels := maps.Clone(current)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, ownerLabels(owner))
		st.UserLabels = labels
		changed = true
	}
	if changed {
		p.Settings = st
	}
	if p.Settings == nil && p.DatabaseVersion == "" {
		return nil
	}
	return p
}

// sqlHost returns the address clients connect to: the public (PRIMARY)
// address, else the private one.
func sqlHost(in *sqladmin.DatabaseInstance) string {
	var private string
	for _, ip := range in.IpAddresses {
		switch ip.Type {
		case sqlAddressPrimary:
			return ip.IpAddress
		case sqlAddressPrivate:
			private = ip.IpAddress
		}
	}
	return private
}

// connection returns the connection details of the owner on host. MySQL
// has no sslmode; its URI asks for TLS with ssl-mode=REQUIRED.
func (t sqlTarget) connection(host, password string) driver.ConnectionDetails {
	c := driver.DatabaseConnection{
		Scheme:   "postgresql",
		Host:     host,
		Port:     t.port(),
		User:     t.owner,
		Password: password,
		Database: t.database,
		SSLMode:  sqlPostgresSSLMode,
	}
	if t.engine == databasev1alpha1.EngineMySQL {
		c.Scheme = "mysql"
		c.SSLMode = ""
		c.URIQuery = url.Values{"ssl-mode": {"REQUIRED"}}
	}
	return c.Details()
}
