package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/providers/driver/drivertest"
	"github.com/stratus-operator/stratus/test/faults"
)

// TestDriverSuite runs the driver suite against the PostgreSQL server,
// reading back as its superuser.
func TestDriverSuite(t *testing.T) {
	t.Parallel()
	drivertest.Run(t, pgHarness{})
}

// pgHarness plugs the PostgreSQL driver into the suite. An object's
// database is named after it, its password derived from its name, as a
// connection Secret would keep it.
type pgHarness struct{}

func (pgHarness) Config(*testing.T) driver.Config { return superuserConfig() }

func (pgHarness) Connect(t *testing.T, cfg driver.Config) (driver.Client[*databasev1alpha1.Database], error) {
	return NewDatabaseDriver().Connect(t.Context(), cfg)
}

func (pgHarness) BadCredentials(*testing.T) []drivertest.Credentials {
	const wrong = "wrong-password-0123456789"
	return []drivertest.Credentials{
		{Name: "WrongPassword", Data: config(pg.User, wrong).Credentials, Secrets: []string{wrong}},
		{Name: "UnknownUser", Data: config("drivertest_nobody", wrong).Credentials, Secrets: []string{wrong}},
	}
}

// Throttling is nothing: PostgreSQL has no throttling answer to give.
func (pgHarness) Throttling() faults.Response { return faults.Response{} }

func (pgHarness) New(name string) *databasev1alpha1.Database {
	db := newDatabase(name)
	db.UID = types.UID("uid-" + name)
	return db
}

func (pgHarness) Request(db *databasev1alpha1.Database) driver.Request[*databasev1alpha1.Database] {
	sum := sha256.Sum256([]byte(db.Name))
	return newRequest(db, db.Name, hex.EncodeToString(sum[:16]))
}

func (pgHarness) Mutations() []drivertest.Mutation[*databasev1alpha1.Database] {
	return []drivertest.Mutation[*databasev1alpha1.Database]{
		{Field: fieldOwner, Apply: func(db *databasev1alpha1.Database) {
			db.Spec.Owner = strings.ReplaceAll(db.Name, "-", "_") + "_app"
		}},
	}
}

// Want is the owner role: spec.owner, else "<database>_owner".
func (pgHarness) Want(db *databasev1alpha1.Database) map[string]string {
	owner := db.Spec.Owner
	if owner == "" {
		owner = db.Name + "_owner"
	}
	return map[string]string{fieldOwner: owner}
}

func (pgHarness) Read(t *testing.T, name string) drivertest.Resource {
	owner, exists := databaseOwner(t, name)
	if !exists {
		return drivertest.Resource{}
	}
	return drivertest.Resource{
		Exists: true,
		Fields: map[string]string{fieldOwner: owner},
		Owner:  driver.MarkFromComment(comments(t, name, "")["database"]),
	}
}

// Tamper gives the database to another role.
func (pgHarness) Tamper(t *testing.T, name string) string {
	intruder := name + "_intruder"
	if !roleExists(t, intruder) {
		admin(t, "CREATE ROLE "+ident(intruder))
	}
	admin(t, "ALTER DATABASE "+ident(name)+" OWNER TO "+ident(intruder))
	return fieldOwner
}

// Mark comments the database with owner's mark, or with nothing.
func (pgHarness) Mark(t *testing.T, name string, owner driver.Owner) {
	conn := adminConn(t)
	var err error
	if owner.Known() {
		err = execFormat(bg(t), conn, "COMMENT ON DATABASE %I IS %L", name, owner.Comment())
	} else {
		err = execFormat(bg(t), conn, "COMMENT ON DATABASE %I IS NULL", name)
	}
	if err != nil {
		t.Fatalf("comment on database %q: %v", name, err)
	}
}
