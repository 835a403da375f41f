package postgres

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// maxIdentifierLength is PostgreSQL's NAMEDATALEN-1: longer identifiers are
// silently truncated by the server.
const maxIdentifierLength = 63

// ownerSuffix makes the default owner role's name from the database's.
const ownerSuffix = "_owner"

// managedCommentPrefix starts the comment the driver put on the roles and
// databases it created before it wrote owner marks (driver.Owner.Comment).
const managedCommentPrefix = "managed by stratus: "

// otherClouds is what to use instead for a spec this provider cannot honour.
const otherClouds = "or use a ProviderConfig for AWS or GCP"

// validateSpec rejects a spec the provider cannot honour. It needs no server.
func validateSpec(spec *databasev1alpha1.DatabaseSpec) error {
	if spec.Engine != "" && spec.Engine != databasev1alpha1.EnginePostgres {
		return driver.Terminalf("the PostgreSQL provider manages only postgres databases and cannot honour spec.engine %q: set spec.engine to postgres, %s", spec.Engine, otherClouds)
	}
	var set []string
	for _, f := range []struct {
		field string
		isSet bool
	}{
		{"spec.region", spec.Region != ""},
		{"spec.sizeClass", spec.SizeClass != ""},
		{"spec.storageGB", spec.StorageGB != nil},
		{"spec.backupRetentionDays", spec.BackupRetentionDays != nil},
		{"spec.highAvailability", spec.HighAvailability != nil},
		{"spec.storageEncrypted", spec.StorageEncrypted != nil},
		{"spec.publiclyAccessible", spec.PubliclyAccessible != nil},
	} {
		if f.isSet {
			set = append(set, f.field)
		}
	}
	switch len(set) {
	case 0:
		return nil
	case 1:
		return driver.Terminalf("the PostgreSQL provider manages databases on an existing server and cannot honour %s: remove it, %s", set[0], otherClouds)
	default:
		return driver.Terminalf("the PostgreSQL provider manages databases on an existing server and cannot honour %s: remove them, %s", strings.Join(set, ", "), otherClouds)
	}
}

// checkEngineVersion rejects an engineVersion other than the server's major
// version.
func checkEngineVersion(want string, v serverVersion, address string) error {
	if want == "" || want == strconv.Itoa(v.major()) {
		return nil
	}
	return driver.Terminalf("spec.engineVersion is %q but the PostgreSQL server at %s runs version %s, whose major version is %d: set spec.engineVersion to %q or remove it",
		want, address, v.text, v.major(), strconv.Itoa(v.major()))
}

// serverVersion is the version the server reports.
type serverVersion struct {
	num  int    // server_version_num, such as 150010
	text string // server_version, such as 15.10
}

// major is the major version: 15 for 15.10 (and 9 for 9.6).
func (v serverVersion) major() int { return v.num / 10000 }

// names are the database and owner role a Database maps to.
type names struct {
	database string
	owner    string
	// legacyComment is the comment the driver wrote on the roles and
	// databases it created before it wrote owner marks, "managed by stratus:
	// <namespace>/<name> <uid>"; empty for an object without a uid.
	legacyComment string
}

// reservedRoles are role names the provider never manages: the server's
// bootstrap superuser on most installations, and the names PostgreSQL
// reserves (PUBLIC, NONE). Names starting with pg_ are reserved too.
var reservedRoles = map[string]bool{"postgres": true, "public": true, "none": true}

// reservedRolePrefix starts the names of PostgreSQL's predefined roles, which
// no one may create.
const reservedRolePrefix = "pg_"

// namesFor returns the names of what db stands for on the server, or a
// terminal error when they cannot be used there. adminDatabase and adminUser
// are the ProviderConfig's, which the driver never manages.
func namesFor(db *databasev1alpha1.Database, externalName, adminDatabase, adminUser string) (names, error) {
	n := names{
		database: externalName,
		owner:    db.Spec.Owner,
	}
	if uid := db.GetUID(); uid != "" {
		n.legacyComment = fmt.Sprintf("%s%s/%s %s", managedCommentPrefix, db.GetNamespace(), db.GetName(), uid)
	}
	switch {
	case n.database == "":
		return names{}, driver.Terminalf("the database has no external name: set spec.databaseName")
	case len(n.database) > maxIdentifierLength:
		return names{}, driver.Terminalf("the database name %q is longer than PostgreSQL's limit of %d bytes: set spec.databaseName to a shorter name", n.database, maxIdentifierLength)
	case !utf8.ValidString(n.database) || strings.ContainsRune(n.database, 0):
		return names{}, driver.Terminalf("the database name %q is not valid UTF-8 text: set spec.databaseName", n.database)
	case n.database == adminDatabase || n.database == defaultAdminDatabase || n.database == "template0" || n.database == "template1":
		return names{}, driver.Terminalf("database %q is one of the server's own (the ProviderConfig's adminDatabase, postgres or a template), which the PostgreSQL provider does not manage: set spec.databaseName to another name", n.database)
	}
	// What to change when the owner's name is refused: spec.owner, or, for
	// the default owner, the database's name.
	fix := "set spec.owner to another role"
	if n.owner == "" {
		n.owner = truncate(n.database, maxIdentifierLength-len(ownerSuffix)) + ownerSuffix
		fix = "set spec.owner to another name, or choose another database name"
	}
	switch {
	case len(n.owner) > maxIdentifierLength:
		return names{}, driver.Terminalf("spec.owner %q is longer than PostgreSQL's limit of %d bytes: set a shorter name", n.owner, maxIdentifierLength)
	case n.owner == adminUser:
		return names{}, driver.Terminalf("owner role %q is the ProviderConfig's admin user, whose password the provider must not manage: %s", n.owner, fix)
	case reservedRoles[n.owner] || strings.HasPrefix(n.owner, reservedRolePrefix):
		return names{}, driver.Terminalf("owner role %q is a name reserved by PostgreSQL (postgres, public, none and pg_*), which the provider does not manage: %s", n.owner, fix)
	}
	return n, nil
}

// truncate shortens s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// carriesLegacyMark reports whether comment is the mark the driver wrote,
// before owner marks, on what it created for the object n was made for.
func carriesLegacyMark(comment string, n names) bool {
	return n.legacyComment != "" && comment == n.legacyComment
}
