package rds

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Identifier limits.
const (
	maxInstanceIdentifier = 63
	maxSnapshotIdentifier = 255
)

// The messages RDS answers invalid identifiers with.
const msgInvalidIdentifier = "The parameter %s is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens."

// query reads the parameters of a Query API request.
type query struct{ url.Values }

// int32 returns an integer parameter, or nil when it is absent.
func (q query) int32(name string) (*int32, *apiError) {
	s := q.Get(name)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected an integer.", s, name)
	}
	v := int32(n)
	return &v, nil
}

// bool returns a boolean parameter, or nil when it is absent.
func (q query) bool(name string) (*bool, *apiError) {
	switch s := q.Get(name); strings.ToLower(s) {
	case "":
		return nil, nil
	case "true":
		v := true
		return &v, nil
	case "false":
		v := false
		return &v, nil
	default:
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected a boolean.", s, name)
	}
}

// list returns the members prefix.1, prefix.2, ... of a list parameter.
func (q query) list(prefix string) []string {
	var out []string
	for i := 1; q.Has(prefix + "." + strconv.Itoa(i)); i++ {
		out = append(out, q.Get(prefix+"."+strconv.Itoa(i)))
	}
	return out
}

// tags returns the Tags.Tag.N.Key/Value members.
func (q query) tags() ([]tagXML, *apiError) {
	var out []tagXML
	for i := 1; ; i++ {
		p := "Tags.Tag." + strconv.Itoa(i)
		if !q.Has(p+".Key") && !q.Has(p+".Value") {
			return out, nil
		}
		k := q.Get(p + ".Key")
		if k == "" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag keys must not be empty")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag keys must not start with 'aws:'")
		}
		out = append(out, tagXML{Key: k, Value: q.Get(p + ".Value")})
	}
}

func missing(name string) *apiError {
	return errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter %s", name)
}

func notFound(id string) *apiError {
	return errorf(http.StatusNotFound, "DBInstanceNotFound", "DBInstance %s not found.", id)
}

// lookup returns an instance of the region. The caller holds mu.
func (h *Handler) lookup(region, id string) (*instance, *apiError) {
	in, ok := h.instances[instanceKey(region, id)]
	if !ok {
		return nil, notFound(id)
	}
	return in, nil
}

// checkStorage checks an allocated storage for an engine and storage type.
func checkStorage(engineName, storageType string, gb int32) *apiError {
	limits := storageTypes[storageType]
	if gb < limits[0] || gb > limits[1] {
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid storage size for engine name %s and storage type %s: %d", engineName, storageType, gb)
	}
	return nil
}

func checkBackupRetention(days int32) *apiError {
	if days < 0 || days > 35 {
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid backup retention period: %d. Valid values are 0 through 35.", days)
	}
	return nil
}

func checkClass(class string) *apiError {
	if !instanceClasses[class] {
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid DB Instance class: %s", class)
	}
	return nil
}

// regionStorage is the storage allocated in a region, pending increases
// included. The caller holds mu.
func (h *Handler) regionStorage(region string) (total int64, count int) {
	for _, in := range h.instances {
		if in.region == region {
			total += int64(max(in.storage, in.effectiveStorage()))
			count++
		}
	}
	return total, count
}

func storageQuotaExceeded() *apiError {
	return errorf(http.StatusBadRequest, "StorageQuotaExceeded", "The request would result in the user exceeding the allowed amount of storage available across all DB instances.")
}

// createDBInstance answers CreateDBInstance.
func (h *Handler) createDBInstance(region string, q query) (any, *apiError) {
	for _, p := range []string{"DBInstanceIdentifier", "DBInstanceClass", "Engine"} {
		if q.Get(p) == "" {
			return nil, missing(p)
		}
	}
	id := q.Get("DBInstanceIdentifier")
	if !validIdentifier(id, maxInstanceIdentifier) {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", msgInvalidIdentifier, "DBInstanceIdentifier")
	}
	id = strings.ToLower(id) // RDS keeps identifiers in lowercase
	if _, exists := h.instances[instanceKey(region, id)]; exists {
		return nil, errorf(http.StatusBadRequest, "DBInstanceAlreadyExists", "DB instance already exists")
	}

	engineName := q.Get("Engine")
	eng, ok := engines[engineName]
	if !ok {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid DB engine: %s", engineName)
	}
	class := q.Get("DBInstanceClass")
	if err := checkClass(class); err != nil {
		return nil, err
	}
	version, ok := eng.resolveVersion(q.Get("EngineVersion"))
	if !ok {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "Cannot find version %s for %s", q.Get("EngineVersion"), engineName)
	}
	storageType := q.Get("StorageType")
	if storageType == "" {
		storageType = "gp3"
	}
	if _, ok := storageTypes[storageType]; !ok {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid storage type: %s", storageType)
	}
	storage, err := q.int32("AllocatedStorage")
	if err != nil {
		return nil, err
	}
	if storage == nil {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The parameter AllocatedStorage must be provided and must not be blank.")
	}
	if err := checkStorage(engineName, storageType, *storage); err != nil {
		return nil, err
	}

	user := q.Get("MasterUsername")
	switch {
	case user == "":
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The parameter MasterUsername must be provided and must not be blank.")
	case !validName(user, eng.maxUserLen):
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue",
			"The parameter MasterUsername is not a valid identifier. It must begin with a letter, contain only ASCII letters, digits, and underscores, and be at most %d characters long.", eng.maxUserLen)
	case reservedNames[strings.ToLower(user)]:
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "MasterUsername %s cannot be used as it is a reserved word used by the engine", user)
	}
	managed, err := q.bool("ManageMasterUserPassword")
	if err != nil {
		return nil, err
	}
	password, hasPassword := q.Get("MasterUserPassword"), q.Has("MasterUserPassword")
	switch {
	case managed != nil && *managed && hasPassword:
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "Specify either MasterUserPassword or ManageMasterUserPassword, not both.")
	case (managed == nil || !*managed) && password == "":
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The parameter MasterUserPassword must be provided and must not be blank.")
	case hasPassword:
		if msg := validPassword(password, eng.maxPassword); msg != "" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "%s", msg)
		}
	}
	dbName := q.Get("DBName")
	if dbName != "" && (!validName(dbName, eng.maxDBName) || reservedNames[strings.ToLower(dbName)]) {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue",
			"The parameter DBName is not a valid identifier. It must begin with a letter, contain only ASCII letters, digits, and underscores, and be at most %d characters long.", eng.maxDBName)
	}

	backup, err := q.int32("BackupRetentionPeriod")
	if err != nil {
		return nil, err
	}
	if backup == nil {
		one := int32(1)
		backup = &one
	}
	if err := checkBackupRetention(*backup); err != nil {
		return nil, err
	}
	port, err := q.int32("Port")
	if err != nil {
		return nil, err
	}
	if port == nil {
		port = &eng.port
	}
	if *port < 1150 || *port > 65535 {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid port %d: the port must be from 1150 to 65535.", *port)
	}
	flags := map[string]*bool{}
	for _, name := range []string{"MultiAZ", "PubliclyAccessible", "DeletionProtection", "StorageEncrypted", "CopyTagsToSnapshot", "AutoMinorVersionUpgrade"} {
		v, err := q.bool(name)
		if err != nil {
			return nil, err
		}
		flags[name] = v
	}
	flag := func(name string, def bool) bool {
		if v := flags[name]; v != nil {
			return *v
		}
		return def
	}
	encrypted := flag("StorageEncrypted", false)
	kmsKeyID := q.Get("KmsKeyId")
	if kmsKeyID != "" && !encrypted {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "Encryption key provided but storage encryption is not enabled.")
	}
	if encrypted && kmsKeyID == "" {
		kmsKeyID = "arn:aws:kms:" + region + ":" + h.cfg.accountID + ":key/6f2c6f37-8d4a-4b5e-9a51-2f7b1c0e9d11" // the aws/rds key
	}
	tags, err := q.tags()
	if err != nil {
		return nil, err
	}

	total, count := h.regionStorage(region)
	if count >= h.cfg.instanceQuota {
		return nil, errorf(http.StatusBadRequest, "InstanceQuotaExceeded", "The request would result in the user exceeding the allowed number of DB instances.")
	}
	if total+int64(*storage) > h.cfg.storageQuotaGB {
		return nil, storageQuotaExceeded()
	}

	now := h.now()
	sum := sha256.Sum256([]byte(region + "/" + id + "/" + now.String()))
	in := &instance{
		id:                 id,
		region:             region,
		account:            h.cfg.accountID,
		resourceID:         "db-" + strings.ToUpper(hex.EncodeToString(sum[:13])),
		engine:             engineName,
		engineVersion:      version,
		class:              class,
		storage:            *storage,
		storageType:        storageType,
		backupRetention:    *backup,
		multiAZ:            flag("MultiAZ", false),
		public:             flag("PubliclyAccessible", false),
		deletionProtection: flag("DeletionProtection", false),
		encrypted:          encrypted,
		kmsKeyID:           kmsKeyID,
		copyTags:           flag("CopyTagsToSnapshot", false),
		autoMinorUpgrade:   flag("AutoMinorVersionUpgrade", true),
		masterUsername:     user,
		dbName:             dbName,
		port:               *port,
		created:            now,
		tags:               tags,
	}
	if hasPassword {
		pw := sha256.Sum256([]byte(password))
		// Shown as a pending change ("****") until the instance is created.
		in.password, in.pending.password = pw, &pw
	}
	in.setStatus(statusCreating, now)
	h.instances[instanceKey(region, id)] = in
	return dbInstanceResult{DBInstance: in.xml()}, nil
}

// describeDBInstances answers DescribeDBInstances: one instance by
// identifier, or the region's instances that match the filters, a page at a
// time.
func (h *Handler) describeDBInstances(region string, q query) (any, *apiError) {
	var ids []string
	var engineFilter []string
	for i := 1; q.Has("Filters.Filter." + strconv.Itoa(i) + ".Name"); i++ {
		p := "Filters.Filter." + strconv.Itoa(i)
		values := q.list(p + ".Values.Value")
		switch name := q.Get(p + ".Name"); name {
		case "db-instance-id":
			for _, v := range values {
				if _, after, ok := strings.Cut(v, ":db:"); ok {
					v = after
				}
				ids = append(ids, strings.ToLower(v))
			}
		case "engine":
			engineFilter = append(engineFilter, values...)
		default:
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Unrecognized filter name: %s.", name)
		}
	}
	maxRecords, err := q.int32("MaxRecords")
	if err != nil {
		return nil, err
	}
	limit := 100
	if maxRecords != nil {
		if *maxRecords < 20 || *maxRecords > 100 {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value %d for MaxRecords. Must be between 20 and 100", *maxRecords)
		}
		limit = int(*maxRecords)
	}

	var found []*instance
	if id := q.Get("DBInstanceIdentifier"); id != "" {
		in, err := h.lookup(region, id)
		if err != nil {
			return nil, err
		}
		found = []*instance{in}
	} else {
		for _, in := range h.instances {
			if in.region == region && (ids == nil || slices.Contains(ids, in.id)) &&
				(engineFilter == nil || slices.Contains(engineFilter, in.engine)) {
				found = append(found, in)
			}
		}
		slices.SortFunc(found, func(a, b *instance) int { return strings.Compare(a.id, b.id) })
	}

	start := 0
	if m := q.Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(found) {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid marker: %s", m)
		}
		start = n
	}
	end := min(start+limit, len(found))
	var res describeDBInstancesResult
	if end < len(found) {
		res.Marker = strconv.Itoa(end)
	}
	for _, in := range found[start:end] {
		if h.cfg.describesPer > 0 && in.transitional() && in.describes >= h.cfg.describesPer {
			if gone := in.step(h.now()); gone {
				delete(h.instances, instanceKey(in.region, in.id))
				if q.Get("DBInstanceIdentifier") != "" {
					return nil, notFound(q.Get("DBInstanceIdentifier"))
				}
				continue
			}
		}
		in.describes++
		res.DBInstances = append(res.DBInstances, in.xml())
	}
	return res, nil
}

// modification is a validated ModifyDBInstance request.
type modification struct {
	class           *string
	storage         *int32
	backupRetention *int32
	multiAZ         *bool
	engineVersion   *string
	password        *[32]byte
	public          *bool
	protection      *bool
	copyTags        *bool
}

// modifyDBInstance answers ModifyDBInstance. Changes to the class, storage,
// backup retention, Multi-AZ and engine version are pending until applied:
// when the modifying state ends with ApplyImmediately, else in the
// maintenance window. Deletion protection and copying tags to snapshots
// change at once; public accessibility and the master password change
// asynchronously whatever ApplyImmediately says.
func (h *Handler) modifyDBInstance(region string, q query) (any, *apiError) {
	id := q.Get("DBInstanceIdentifier")
	if id == "" {
		return nil, missing("DBInstanceIdentifier")
	}
	in, aerr := h.lookup(region, id)
	if aerr != nil {
		return nil, aerr
	}
	if in.status != statusAvailable {
		return nil, errorf(http.StatusBadRequest, "InvalidDBInstanceState", "Database instance is not in available state.")
	}
	eng := engines[in.engine]
	applyNow, err := q.bool("ApplyImmediately")
	if err != nil {
		return nil, err
	}
	allowMajor, err := q.bool("AllowMajorVersionUpgrade")
	if err != nil {
		return nil, err
	}

	// Validate everything before changing anything.
	var m modification
	if v := q.Get("DBInstanceClass"); v != "" {
		if err := checkClass(v); err != nil {
			return nil, err
		}
		if v != in.effectiveClass() {
			m.class = &v
		}
	}
	storage, err := q.int32("AllocatedStorage")
	if err != nil {
		return nil, err
	}
	if storage != nil && *storage != in.effectiveStorage() {
		if err := checkStorage(in.engine, in.storageType, *storage); err != nil {
			return nil, err
		}
		switch {
		case *storage < in.storage:
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue",
				"Invalid storage size: the requested allocated storage (%d GiB) is less than the current allocated storage (%d GiB); allocated storage can only be increased.", *storage, in.storage)
		case *storage > in.storage && int64(*storage)*10 < int64(in.storage)*11:
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue",
				"Invalid storage size: the allocated storage must be increased by at least 10 percent, from %d GiB to at least %d GiB.", in.storage, (int64(in.storage)*11+9)/10)
		}
		if total, _ := h.regionStorage(region); total-int64(max(in.storage, in.effectiveStorage()))+int64(*storage) > h.cfg.storageQuotaGB {
			return nil, storageQuotaExceeded()
		}
		m.storage = storage
	}
	backup, err := q.int32("BackupRetentionPeriod")
	if err != nil {
		return nil, err
	}
	if backup != nil {
		if err := checkBackupRetention(*backup); err != nil {
			return nil, err
		}
		if *backup != in.effectiveBackupRetention() {
			m.backupRetention = backup
		}
	}
	if m.multiAZ, err = q.bool("MultiAZ"); err != nil {
		return nil, err
	} else if m.multiAZ != nil && *m.multiAZ == in.effectiveMultiAZ() {
		m.multiAZ = nil
	}
	if v := q.Get("EngineVersion"); v != "" {
		full, ok := eng.resolveVersion(v)
		if !ok {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "Cannot find version %s for %s", v, in.engine)
		}
		cur := in.effectiveEngineVersion()
		switch {
		case v == majorOf(cur, eng.majorParts) || full == cur:
			// The instance already runs that version.
		case compareVersions(full, in.engineVersion) < 0:
			return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "Cannot upgrade %s from %s to %s", in.engine, in.engineVersion, full)
		case majorOf(full, eng.majorParts) != majorOf(in.engineVersion, eng.majorParts) && (allowMajor == nil || !*allowMajor):
			return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version.")
		default:
			m.engineVersion = &full
		}
	}
	if q.Has("MasterUserPassword") {
		p := q.Get("MasterUserPassword")
		if msg := validPassword(p, eng.maxPassword); msg != "" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "%s", msg)
		}
		sum := sha256.Sum256([]byte(p))
		m.password = &sum
	}
	for _, f := range []struct {
		name    string
		dst     **bool
		current bool
	}{
		{"PubliclyAccessible", &m.public, in.public},
		{"DeletionProtection", &m.protection, in.deletionProtection},
		{"CopyTagsToSnapshot", &m.copyTags, in.copyTags},
	} {
		v, err := q.bool(f.name)
		if err != nil {
			return nil, err
		}
		if v != nil && *v != f.current {
			*f.dst = v
		}
	}
	if m == (modification{}) {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "No modifications were requested")
	}

	// Apply.
	if m.protection != nil {
		in.deletionProtection = *m.protection
	}
	if m.copyTags != nil {
		in.copyTags = *m.copyTags
	}
	asynchronous := false
	if m.public != nil {
		in.public = *m.public
		asynchronous = true
	}
	if m.password != nil {
		in.pending.password = m.password
		asynchronous = true
	}
	setPending(&in.pending.class, m.class, in.class)
	setPending(&in.pending.storage, m.storage, in.storage)
	setPending(&in.pending.backupRetention, m.backupRetention, in.backupRetention)
	setPending(&in.pending.multiAZ, m.multiAZ, in.multiAZ)
	setPending(&in.pending.engineVersion, m.engineVersion, in.engineVersion)
	now := applyNow != nil && *applyNow
	if now {
		in.pendingNow = true
	}
	if asynchronous || (now && !in.pending.empty()) {
		in.setStatus(statusModifying, h.now())
	}
	return dbInstanceResult{DBInstance: in.xml()}, nil
}

// setPending records a requested value as pending, or cancels the pending
// change when the value is the current one.
func setPending[T comparable](dst **T, requested *T, current T) {
	switch {
	case requested == nil:
	case *requested == current:
		*dst = nil
	default:
		v := *requested
		*dst = &v
	}
}

// deleteDBInstance answers DeleteDBInstance. Unless SkipFinalSnapshot is
// true, it takes a final snapshot named FinalDBSnapshotIdentifier.
func (h *Handler) deleteDBInstance(region string, q query) (any, *apiError) {
	id := q.Get("DBInstanceIdentifier")
	if id == "" {
		return nil, missing("DBInstanceIdentifier")
	}
	in, aerr := h.lookup(region, id)
	if aerr != nil {
		return nil, aerr
	}
	skip, err := q.bool("SkipFinalSnapshot")
	if err != nil {
		return nil, err
	}
	skipFinal := skip != nil && *skip
	final := q.Get("FinalDBSnapshotIdentifier")
	switch {
	case in.status == statusDeleting:
		return nil, errorf(http.StatusBadRequest, "InvalidDBInstanceState", "Instance %s is already being deleted.", in.id)
	case in.deletionProtection:
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "Cannot delete protected DB Instance, please disable deletion protection and try again.")
	case skipFinal && final != "":
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "FinalDBSnapshotIdentifier can not be specified when deleting an instance with SkipFinalSnapshot=true")
	case !skipFinal && final == "":
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
	}
	if !skipFinal {
		if !validIdentifier(final, maxSnapshotIdentifier) {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", msgInvalidIdentifier, "FinalDBSnapshotIdentifier")
		}
		if in.status == statusCreating {
			return nil, errorf(http.StatusBadRequest, "InvalidDBInstanceState", "Instance %s is currently creating - a final snapshot cannot be taken.", in.id)
		}
		key := instanceKey(region, final)
		if _, exists := h.snapshots[key]; exists {
			return nil, errorf(http.StatusBadRequest, "DBSnapshotAlreadyExists", "Cannot create the snapshot because a snapshot with the identifier %s already exists.", strings.ToLower(final))
		}
		h.snapshots[key] = Snapshot{
			Identifier:           strings.ToLower(final),
			DBInstanceIdentifier: in.id,
			Region:               region,
			Engine:               in.engine,
			EngineVersion:        in.engineVersion,
			AllocatedStorage:     in.storage,
			Created:              h.now(),
		}
	}
	in.setStatus(statusDeleting, h.now())
	return dbInstanceResult{DBInstance: in.xml()}, nil
}

// taggedInstance returns the instance an ARN names. The caller holds mu.
func (h *Handler) taggedInstance(region string, q query) (*instance, *apiError) {
	arn := q.Get("ResourceName")
	if arn == "" {
		return nil, missing("ResourceName")
	}
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "rds" || parts[3] != region || parts[4] != h.cfg.accountID || parts[5] != "db" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The specified resource name does not match an RDS resource in this region.")
	}
	return h.lookup(region, parts[6])
}

// addTagsToResource answers AddTagsToResource, whose answer has no result.
func (h *Handler) addTagsToResource(region string, q query) (any, *apiError) {
	in, err := h.taggedInstance(region, q)
	if err != nil {
		return nil, err
	}
	tags, err := q.tags()
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, missing("Tags")
	}
	in.setTags(tags)
	return nil, nil
}

// listTagsForResource answers ListTagsForResource.
func (h *Handler) listTagsForResource(region string, q query) (any, *apiError) {
	in, err := h.taggedInstance(region, q)
	if err != nil {
		return nil, err
	}
	return listTagsResult{TagList: append([]tagXML(nil), in.tags...)}, nil
}
