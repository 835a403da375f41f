package cloudsql

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	sqladmin "google.golang.org/api/sqladmin/v1"
)

// instance is a Cloud SQL instance and what lives in it.
type instance struct {
	db        sqladmin.DatabaseInstance
	databases map[string]*sqladmin.Database
	users     map[string]*user // by userKey
	busy      *operation       // the operation running on it
	primaryIP string
	privateIP string
}

// user is a database user and its password, which is never returned.
type user struct {
	u        sqladmin.User
	password string
}

func userKey(name, host string) string { return name + "@" + host }

// Cloud SQL's rules for names and values.
var (
	instanceNamePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	regionPattern       = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	customTierPattern   = regexp.MustCompile(`^db-custom-([0-9]+)-([0-9]+)$`)
	n1TierPattern       = regexp.MustCompile(`^db-n1-(standard|highmem)-(1|2|4|8|16|32|64|96)$`)
	perfTierPattern     = regexp.MustCompile(`^db-perf-optimized-N-(2|4|8|16|32|48|64|80|96|128)$`)
)

// maxInstanceName is the longest instance name Cloud SQL accepts.
const maxInstanceName = 98

// Cloud SQL's limits of settings.userLabels: at most 64 labels, keys and
// values of at most 63 characters.
const (
	maxUserLabels     = 64
	maxUserLabelChars = 63
)

// knownVersions are the database versions the fake accepts.
var knownVersions = map[string]bool{
	"POSTGRES_9_6": true, "POSTGRES_10": true, "POSTGRES_11": true, "POSTGRES_12": true, "POSTGRES_13": true,
	"POSTGRES_14": true, "POSTGRES_15": true, "POSTGRES_16": true, "POSTGRES_17": true, "POSTGRES_18": true,
	"MYSQL_5_6": true, "MYSQL_5_7": true, "MYSQL_8_0": true, "MYSQL_8_4": true,
}

// engineOf returns the engine of a database version: POSTGRES or MYSQL.
func engineOf(version string) string {
	e, _, _ := strings.Cut(version, "_")
	return e
}

// versionNumber returns the major and minor numbers of a database version:
// 9, 6 for POSTGRES_9_6 and 16, 0 for POSTGRES_16.
func versionNumber(version string) (int, int) {
	parts := strings.Split(version, "_")
	major, minor := 0, 0
	if len(parts) > 1 {
		major, _ = strconv.Atoi(parts[1])
	}
	if len(parts) > 2 {
		minor, _ = strconv.Atoi(parts[2])
	}
	return major, minor
}

// defaultEdition is the edition Cloud SQL gives an instance inserted
// without one: Enterprise Plus from PostgreSQL 16 and MySQL 8.4.
func defaultEdition(version string) string {
	major, minor := versionNumber(version)
	switch engineOf(version) {
	case "POSTGRES":
		if major >= 16 {
			return EditionEnterprisePlus
		}
	case "MYSQL":
		if major > 8 || major == 8 && minor >= 4 {
			return EditionEnterprisePlus
		}
	}
	return EditionEnterprise
}

// present reports whether a field path was sent in a request's JSON.
func present(raw map[string]any, path ...string) bool {
	for i, p := range path {
		v, ok := raw[p]
		if !ok {
			return false
		}
		if i == len(path)-1 {
			return true
		}
		if raw, ok = v.(map[string]any); !ok {
			return false
		}
	}
	return false
}

// applyDefaults fills in what Cloud SQL fills in for settings inserted
// without it. raw is the settings as sent, to tell absent from false.
func applyDefaults(version string, s *sqladmin.Settings, raw map[string]any) {
	s.Kind = "sql#settings"
	s.SettingsVersion = 1
	if s.Edition == "" {
		s.Edition = defaultEdition(version)
	}
	if s.AvailabilityType == "" {
		s.AvailabilityType = "ZONAL"
	}
	if s.DataDiskSizeGb == 0 {
		s.DataDiskSizeGb = 10
	}
	if s.DataDiskType == "" {
		s.DataDiskType = "PD_SSD"
	}
	if s.StorageAutoResize == nil {
		t := true
		s.StorageAutoResize = &t
	}
	if s.ActivationPolicy == "" {
		s.ActivationPolicy = "ALWAYS"
	}
	if s.PricingPlan == "" {
		s.PricingPlan = "PER_USE"
	}
	if s.IpConfiguration == nil {
		s.IpConfiguration = &sqladmin.IpConfiguration{}
	}
	if !present(raw, "ipConfiguration", "ipv4Enabled") {
		s.IpConfiguration.Ipv4Enabled = true // public IP unless turned off
	}
	if s.IpConfiguration.SslMode == "" {
		s.IpConfiguration.SslMode = "ALLOW_UNENCRYPTED_AND_ENCRYPTED"
	}
	if s.BackupConfiguration == nil {
		s.BackupConfiguration = &sqladmin.BackupConfiguration{}
	}
	defaultBackups(s.BackupConfiguration)
}

// defaultBackups fills in a backup configuration's defaults.
func defaultBackups(b *sqladmin.BackupConfiguration) {
	b.Kind = "sql#backupConfiguration"
	if b.BackupRetentionSettings == nil {
		b.BackupRetentionSettings = &sqladmin.BackupRetentionSettings{RetainedBackups: 7}
	}
	if b.BackupRetentionSettings.RetentionUnit == "" {
		b.BackupRetentionSettings.RetentionUnit = "COUNT"
	}
	if b.Enabled && b.StartTime == "" {
		b.StartTime = "03:00"
	}
	if b.TransactionLogRetentionDays == 0 {
		b.TransactionLogRetentionDays = 7
	}
}

// invalidError is a 400 invalid answer.
func invalidError(format string, args ...any) *APIError {
	return &APIError{Code: http.StatusBadRequest, Reason: ReasonInvalid, Message: fmt.Sprintf(format, args...)}
}

// validateSettings checks settings as Cloud SQL would; cur is the instance's
// current settings for a patch, nil for an insert.
func validateSettings(version string, s, cur *sqladmin.Settings) *APIError {
	if s.Edition != EditionEnterprise && s.Edition != EditionEnterprisePlus {
		return invalidError("Invalid request: Invalid edition (%s).", s.Edition)
	}
	if e := checkTier(version, s.Edition, s.Tier); e != nil {
		return e
	}
	if s.AvailabilityType != "ZONAL" && s.AvailabilityType != "REGIONAL" {
		return invalidError("Invalid request: Invalid availability type (%s).", s.AvailabilityType)
	}
	if s.DataDiskSizeGb < 10 || s.DataDiskSizeGb > 65536 {
		return invalidError("Invalid request: Invalid disk size (%d GB): it must be between 10 and 65536 GB.", s.DataDiskSizeGb)
	}
	if cur != nil && s.DataDiskSizeGb < cur.DataDiskSizeGb {
		return invalidError("Invalid request: The disk size cannot be decreased (from %d GB to %d GB).", cur.DataDiskSizeGb, s.DataDiskSizeGb)
	}
	if b := s.BackupConfiguration; b != nil && b.Enabled && b.BackupRetentionSettings != nil {
		if n := b.BackupRetentionSettings.RetainedBackups; n < 1 || n > 365 {
			return invalidError("Invalid request: The number of retained backups must be between 1 and 365 (got %d).", n)
		}
	}
	if e := checkUserLabels(s.UserLabels); e != nil {
		return e
	}
	if ip := s.IpConfiguration; ip != nil {
		if !ip.Ipv4Enabled && ip.PrivateNetwork == "" && (ip.PscConfig == nil || !ip.PscConfig.PscEnabled) {
			return invalidError("Invalid request: At least one of Public IP or Private IP or PSC connectivity must be enabled.")
		}
		switch ip.SslMode {
		case "ALLOW_UNENCRYPTED_AND_ENCRYPTED", "ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED":
		default:
			return invalidError("Invalid request: Invalid SSL mode (%s).", ip.SslMode)
		}
	}
	return nil
}

// checkUserLabels checks settings.userLabels as Cloud SQL does: at most 64
// labels; keys of 1 to 63 characters that start with a lowercase letter;
// values of at most 63; both of lowercase letters (international ones
// included), digits, underscores and dashes.
func checkUserLabels(labels map[string]string) *APIError {
	if len(labels) > maxUserLabels {
		return invalidError("Invalid request: An instance may have at most %d labels, not %d.", maxUserLabels, len(labels))
	}
	keys := slices.Sorted(maps.Keys(labels))
	for _, k := range keys {
		v := labels[k]
		if n := utf8.RuneCountInString(k); n == 0 || n > maxUserLabelChars {
			return invalidError("Invalid request: Label key %q must be 1 to %d characters long.", k, maxUserLabelChars)
		}
		if first, _ := utf8.DecodeRuneInString(k); !isLowerLetter(first) {
			return invalidError("Invalid request: Label key %q must start with a lowercase letter.", k)
		}
		if utf8.RuneCountInString(v) > maxUserLabelChars {
			return invalidError("Invalid request: Label value %q must be at most %d characters long.", v, maxUserLabelChars)
		}
		for _, text := range []string{k, v} {
			for _, r := range text {
				if !isLowerLetter(r) && !('0' <= r && r <= '9') && r != '_' && r != '-' {
					return invalidError("Invalid request: Label %q=%q may contain only lowercase letters, digits, underscores and dashes.", k, v)
				}
			}
		}
	}
	return nil
}

// isLowerLetter reports whether r is a lowercase letter or a letter without
// case.
func isLowerLetter(r rune) bool {
	return unicode.IsLetter(r) && !unicode.IsUpper(r) && !unicode.IsTitle(r)
}

// checkTier checks a tier against the edition and engine, as Cloud SQL
// does: shared-core and custom tiers are Enterprise only, the predefined N1
// tiers are MySQL only, and Enterprise Plus takes only the
// performance-optimized tiers.
func checkTier(version, edition, tier string) *APIError {
	ok := false
	switch {
	case tier == "db-f1-micro" || tier == "db-g1-small":
		ok = edition == EditionEnterprise
	case customTierPattern.MatchString(tier):
		m := customTierPattern.FindStringSubmatch(tier)
		cpus, _ := strconv.Atoi(m[1])
		mem, _ := strconv.Atoi(m[2])
		ok = edition == EditionEnterprise &&
			(cpus == 1 || cpus%2 == 0 && cpus <= 96) &&
			mem%256 == 0 && mem >= 3840 && mem*10 >= cpus*9216 && mem <= cpus*6656
	case n1TierPattern.MatchString(tier):
		ok = edition == EditionEnterprise && engineOf(version) == "MYSQL"
	case perfTierPattern.MatchString(tier):
		ok = edition == EditionEnterprisePlus
	}
	if ok {
		return nil
	}
	msg := fmt.Sprintf("Invalid request: Invalid Tier (%s) for (%s) Edition.", tier, edition)
	if edition == EditionEnterprisePlus {
		msg += " Use a predefined Tier like db-perf-optimized-N-* instead."
	}
	return invalidError("%s", msg)
}

func alreadyExists(reason, message string) APIError {
	return APIError{Code: http.StatusConflict, Status: "ALREADY_EXISTS", Reason: reason, Message: message}
}

func (c *call) insertInstance() {
	f := c.f
	var in sqladmin.DatabaseInstance
	raw, ok := c.decode(&in)
	if !ok {
		return
	}
	if len(in.Name) > maxInstanceName || !instanceNamePattern.MatchString(in.Name) {
		c.invalid("Invalid request: instance name (%s).", in.Name)
		return
	}
	if _, ok := f.instances[in.Name]; ok {
		c.fail(alreadyExists(ReasonInstanceAlreadyExists, "The Cloud SQL instance already exists."))
		return
	}
	if t, ok := f.deleted[in.Name]; ok && c.now.Sub(t) < NameReuseDelay {
		c.fail(alreadyExists(ReasonInstanceAlreadyExists, "The Cloud SQL instance already exists. When you delete an instance, you can't reuse the name of the deleted instance until one week from the deletion date."))
		return
	}
	version := in.DatabaseVersion
	if version == "" {
		version = DefaultDatabaseVersion
	}
	if !knownVersions[version] {
		c.invalid("Invalid request: Invalid database version (%s).", version)
		return
	}
	if in.Settings == nil || in.Settings.Tier == "" {
		c.invalid("Invalid request: The settings must specify a tier.")
		return
	}
	region := in.Region
	if region == "" {
		region = DefaultRegion
	}
	if !regionPattern.MatchString(region) {
		c.invalid("Invalid request: Invalid region (%s).", region)
		return
	}
	s := copyOf(in.Settings)
	sraw, _ := raw["settings"].(map[string]any)
	dropNullLabels(s, sraw)
	applyDefaults(version, s, sraw)
	if e := validateSettings(version, s, nil); e != nil {
		c.fail(*e)
		return
	}
	zone := region + "-a"
	inst := &instance{
		db: sqladmin.DatabaseInstance{
			Kind:                       "sql#instance",
			Name:                       in.Name,
			Project:                    c.rt.project,
			Region:                     region,
			GceZone:                    zone,
			DatabaseVersion:            version,
			State:                      StatePendingCreate,
			Settings:                   s,
			BackendType:                "SECOND_GEN",
			InstanceType:               "CLOUD_SQL_INSTANCE",
			ConnectionName:             c.rt.project + ":" + region + ":" + in.Name,
			CreateTime:                 timestamp(c.now),
			Etag:                       newEtag(),
			SelfLink:                   c.instanceLink(in.Name),
			ServiceAccountEmailAddress: "p123456789-abcdef@gcp-sa-cloud-sql.iam.gserviceaccount.com",
		},
		databases: map[string]*sqladmin.Database{},
		users:     map[string]*user{},
	}
	f.instances[in.Name] = inst
	rootPassword := in.RootPassword
	c.begin(inst, OperationCreate, func(time.Time) {
		inst.db.State = StateRunnable
		inst.db.Etag = newEtag()
		f.assignAddresses(inst)
		c.addSystemObjects(inst, rootPassword)
	}, func() { inst.db.State = StateFailed })
}

// addSystemObjects adds the databases and users Cloud SQL creates with an
// instance.
func (c *call) addSystemObjects(inst *instance, rootPassword string) {
	if engineOf(inst.db.DatabaseVersion) == "POSTGRES" {
		c.addDatabase(inst, "postgres", "", "")
		c.addUser(inst, sqladmin.User{Name: "postgres"}, rootPassword)
		return
	}
	for _, d := range []string{"information_schema", "mysql", "performance_schema", "sys"} {
		c.addDatabase(inst, d, "", "")
	}
	c.addUser(inst, sqladmin.User{Name: "root", Host: "%"}, rootPassword)
}

// assignAddresses gives an instance the addresses its IP configuration asks
// for: a made-up public address (from 203.0.113.0/24, set aside for
// documentation) as PRIMARY, and a private one as PRIVATE.
func (f *Fake) assignAddresses(inst *instance) {
	ip := inst.db.Settings.IpConfiguration
	var out []*sqladmin.IpMapping
	if ip != nil && ip.Ipv4Enabled {
		if inst.primaryIP == "" {
			f.addresses++
			inst.primaryIP = fmt.Sprintf("203.0.113.%d", f.addresses%250+1)
		}
		out = append(out, &sqladmin.IpMapping{Type: "PRIMARY", IpAddress: inst.primaryIP})
	}
	if ip != nil && ip.PrivateNetwork != "" {
		if inst.privateIP == "" {
			f.addresses++
			inst.privateIP = fmt.Sprintf("10.%d.%d.3", f.addresses/250%250, f.addresses%250)
		}
		out = append(out, &sqladmin.IpMapping{Type: "PRIVATE", IpAddress: inst.privateIP})
	}
	inst.db.IpAddresses = out
}

func (c *call) getInstance() {
	inst, ok := c.instanceFor()
	if !ok {
		return
	}
	c.reply(inst.db)
}

func (c *call) patchInstance() {
	inst, ok := c.instanceFor()
	if !ok || !c.idle(inst) {
		return
	}
	var patch sqladmin.DatabaseInstance
	raw, ok := c.decode(&patch)
	if !ok || !c.running(inst) {
		return
	}
	if patch.Name != "" && patch.Name != inst.db.Name {
		c.invalid("Invalid request: instance name (%s) does not match (%s).", patch.Name, inst.db.Name)
		return
	}
	if patch.Region != "" && patch.Region != inst.db.Region {
		c.invalid("Invalid request: The region of an instance cannot be changed.")
		return
	}
	typ := OperationUpdate
	version := inst.db.DatabaseVersion
	if v := patch.DatabaseVersion; v != "" && v != version {
		curMajor, curMinor := versionNumber(version)
		major, minor := versionNumber(v)
		switch {
		case !knownVersions[v]:
			c.invalid("Invalid request: Invalid database version (%s).", v)
			return
		case engineOf(v) != engineOf(version):
			c.invalid("Invalid request: The database engine cannot be changed (from %s to %s).", version, v)
			return
		case major < curMajor || major == curMajor && minor < curMinor:
			c.invalid("Invalid request: The database version cannot be downgraded (from %s to %s).", version, v)
			return
		}
		typ, version = OperationMajorVersionUpgrade, v
	}

	// PATCH merges the fields sent into the settings; the others stay.
	cur, err := json.Marshal(inst.db.Settings)
	if err != nil {
		panic(err)
	}
	merged := map[string]any{}
	_ = json.Unmarshal(cur, &merged)
	if rs, ok := raw["settings"].(map[string]any); ok {
		mergeJSON(merged, rs)
	}
	b, _ := json.Marshal(merged)
	s := &sqladmin.Settings{}
	if err := json.Unmarshal(b, s); err != nil {
		c.invalid("Invalid request: %v", err)
		return
	}
	if s.BackupConfiguration != nil {
		defaultBackups(s.BackupConfiguration)
	}
	if e := validateSettings(version, s, inst.db.Settings); e != nil {
		c.fail(*e)
		return
	}
	s.SettingsVersion = inst.db.Settings.SettingsVersion + 1
	prev := inst.db.State
	inst.db.State = StateMaintenance
	c.begin(inst, typ, func(time.Time) {
		inst.db.Settings = s
		inst.db.DatabaseVersion = version
		inst.db.State = StateRunnable
		inst.db.Etag = newEtag()
		c.f.assignAddresses(inst)
	}, func() { inst.db.State = prev })
}

// dropNullLabels removes from s the userLabels that raw, the settings as
// sent, has as null: a null label is no label (a null would otherwise
// decode as an empty value).
func dropNullLabels(s *sqladmin.Settings, raw map[string]any) {
	sent, _ := raw["userLabels"].(map[string]any)
	for k, v := range sent {
		if v == nil {
			delete(s.UserLabels, k)
		}
	}
	if len(s.UserLabels) == 0 {
		s.UserLabels = nil
	}
}

// mergeJSON merges src into dst: objects field by field, anything else
// (arrays included) replaced, and a field sent as null removed. So PATCH
// merges settings.userLabels label by label, and removes a label sent as
// null, as Cloud SQL does.
func mergeJSON(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		if sv, ok := v.(map[string]any); ok {
			dv, ok := dst[k].(map[string]any)
			if !ok {
				dv = map[string]any{}
				dst[k] = dv
			}
			mergeJSON(dv, sv)
			continue
		}
		dst[k] = v
	}
}

func (c *call) deleteInstance() {
	inst, ok := c.instanceFor()
	if !ok || !c.idle(inst) {
		return
	}
	if inst.db.Settings.DeletionProtectionEnabled {
		c.invalid("The instance is protected from deletion. Disable deletion protection on the instance, then try again.")
		return
	}
	f := c.f
	name := inst.db.Name
	prev := inst.db.State
	inst.db.State = StatePendingDelete
	c.begin(inst, OperationDelete, func(now time.Time) {
		delete(f.instances, name)
		f.deleted[name] = now
	}, func() { inst.db.State = prev })
}

// maxDatabaseName is the longest database name: PostgreSQL's 63, MySQL's 64.
func maxDatabaseName(version string) int {
	if engineOf(version) == "MYSQL" {
		return 64
	}
	return 63
}

// addDatabase adds a database with the engine's default character set.
func (c *call) addDatabase(inst *instance, name, charset, collation string) {
	if charset == "" {
		charset, collation = "UTF8", "en_US.UTF8"
		if engineOf(inst.db.DatabaseVersion) == "MYSQL" {
			charset, collation = "utf8mb4", "utf8mb4_0900_ai_ci"
		}
	}
	inst.databases[name] = &sqladmin.Database{
		Kind:      "sql#database",
		Name:      name,
		Charset:   charset,
		Collation: collation,
		Instance:  inst.db.Name,
		Project:   inst.db.Project,
		Etag:      newEtag(),
		SelfLink:  c.instanceLink(inst.db.Name) + "/databases/" + name,
	}
}

func (c *call) insertDatabase() {
	inst, ok := c.instanceFor()
	if !ok || !c.idle(inst) {
		return
	}
	var d sqladmin.Database
	if _, ok := c.decode(&d); !ok || !c.running(inst) {
		return
	}
	if d.Name == "" || len(d.Name) > maxDatabaseName(inst.db.DatabaseVersion) {
		c.invalid("Invalid request: Invalid database name (%s).", d.Name)
		return
	}
	if _, ok := inst.databases[d.Name]; ok {
		c.fail(alreadyExists(ReasonAlreadyExists, fmt.Sprintf("Database %q already exists in the instance.", d.Name)))
		return
	}
	c.begin(inst, OperationCreateDatabase, func(time.Time) { c.addDatabase(inst, d.Name, d.Charset, d.Collation) }, nil)
}

// databaseFor returns the database of the request, or answers 404.
func (c *call) databaseFor(inst *instance) (*sqladmin.Database, bool) {
	d, ok := inst.databases[c.rt.child]
	if !ok {
		c.fail(APIError{Code: http.StatusNotFound, Reason: ReasonNotFound, Message: fmt.Sprintf("The database %q does not exist in the instance.", c.rt.child)})
	}
	return d, ok
}

func (c *call) getDatabase() {
	inst, ok := c.instanceFor()
	if !ok || !c.running(inst) {
		return
	}
	if d, ok := c.databaseFor(inst); ok {
		c.reply(d)
	}
}

func (c *call) patchDatabase() {
	inst, ok := c.instanceFor()
	if !ok || !c.idle(inst) || !c.running(inst) {
		return
	}
	d, ok := c.databaseFor(inst)
	if !ok {
		return
	}
	var patch sqladmin.Database
	if _, ok := c.decode(&patch); !ok {
		return
	}
	c.begin(inst, OperationUpdateDatabase, func(time.Time) {
		if patch.Charset != "" {
			d.Charset = patch.Charset
		}
		if patch.Collation != "" {
			d.Collation = patch.Collation
		}
		d.Etag = newEtag()
	}, nil)
}

func (c *call) deleteDatabase() {
	inst, ok := c.instanceFor()
	if !ok || !c.idle(inst) || !c.running(inst) {
		return
	}
	d, ok := c.databaseFor(inst)
	if !ok {
		return
	}
	c.begin(inst, OperationDeleteDatabase, func(time.Time) { delete(inst.databases, d.Name) }, nil)
}

// userHost is the host of a user: none for PostgreSQL, "%" (any) by default
// for MySQL.
func userHost(inst *instance, host string) string {
	if host == "" && engineOf(inst.db.DatabaseVersion) == "MYSQL" {
		return "%"
	}
	return host
}

// addUser adds a user; its password is kept apart.
func (c *call) addUser(inst *instance, u sqladmin.User, password string) {
	u.Host = userHost(inst, u.Host)
	stored := sqladmin.User{
		Kind:     "sql#user",
		Name:     u.Name,
		Host:     u.Host,
		Instance: inst.db.Name,
		Project:  inst.db.Project,
		Type:     u.Type,
		Etag:     newEtag(),
	}
	if stored.Type == "" {
		stored.Type = "BUILT_IN"
	}
	inst.users[userKey(u.Name, u.Host)] = &user{u: stored, password: password}
}

func (c *call) insertUser() {
	inst, ok := c.instanceFor()
	if !ok || !c.idle(inst) {
		return
	}
	var u sqladmin.User
	if _, ok := c.decode(&u); !ok || !c.running(inst) {
		return
	}
	if u.Name == "" {
		c.invalid("Invalid request: The user name must be specified.")
		return
	}
	if u.Host != "" && engineOf(inst.db.DatabaseVersion) == "POSTGRES" {
		c.invalid("Invalid request: PostgreSQL users have no host (got %q).", u.Host)
		return
	}
	host := userHost(inst, u.Host)
	if _, ok := inst.users[userKey(u.Name, host)]; ok {
		c.fail(alreadyExists(ReasonAlreadyExists, fmt.Sprintf("User %q already exists in the instance.", u.Name)))
		return
	}
	password := u.Password
	c.begin(inst, OperationCreateUser, func(time.Time) { c.addUser(inst, u, password) }, nil)
}

func (c *call) listUsers() {
	inst, ok := c.instanceFor()
	if !ok || !c.running(inst) {
		return
	}
	keys := make([]string, 0, len(inst.users))
	for k := range inst.users {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	items := make([]*sqladmin.User, 0, len(keys))
	for _, k := range keys {
		u := inst.users[k].u // never the password
		items = append(items, &u)
	}
	c.reply(sqladmin.UsersListResponse{Kind: "sql#usersList", Items: items})
}

// userName returns the name and host query parameters of a users.update or
// users.delete request, or answers 400 when the name is missing.
func (c *call) userName(inst *instance) (string, string, bool) {
	q := c.r.URL.Query()
	name := q.Get("name")
	if name == "" {
		c.invalid("Invalid request: The user name must be specified.")
		return "", "", false
	}
	return name, userHost(inst, q.Get("host")), true
}

func (c *call) updateUser() {
	inst, ok := c.instanceFor()
	if !ok || !c.idle(inst) {
		return
	}
	var u sqladmin.User
	raw, ok := c.decode(&u)
	if !ok || !c.running(inst) {
		return
	}
	name, host, ok := c.userName(inst)
	if !ok {
		return
	}
	setPassword := present(raw, "password")
	c.begin(inst, OperationUpdateUser, func(time.Time) {
		existing, ok := inst.users[userKey(name, host)]
		if !ok {
			// As documented: updating a user that does not exist creates it.
			c.addUser(inst, sqladmin.User{Name: name, Host: host, Type: u.Type}, u.Password)
			return
		}
		if setPassword {
			existing.password = u.Password
		}
		existing.u.Etag = newEtag()
	}, nil)
}

func (c *call) deleteUser() {
	inst, ok := c.instanceFor()
	if !ok || !c.idle(inst) || !c.running(inst) {
		return
	}
	name, host, ok := c.userName(inst)
	if !ok {
		return
	}
	key := userKey(name, host)
	if _, ok := inst.users[key]; !ok {
		c.fail(APIError{Code: http.StatusNotFound, Reason: ReasonNotFound, Message: fmt.Sprintf("The user %q does not exist in the instance.", name)})
		return
	}
	c.begin(inst, OperationDeleteUser, func(time.Time) { delete(inst.users, key) }, nil)
}
