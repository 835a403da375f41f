package gcp

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sqladmin "google.golang.org/api/sqladmin/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

func TestCloudSQLTargetFor(t *testing.T) {
	// view is the part of a target the cases compare.
	type view struct {
		Instance, Database, Owner, Region, Version, Tier string
		VersionSet                                       bool
		StorageGB, BackupDays                            int64
		HA, Protection, Public                           bool
	}
	defaults := view{
		Instance: "test-db", Database: "test_db", Owner: sqlDefaultOwner, Region: sqlTestRegion,
		Version: "POSTGRES_16", Tier: "db-custom-1-3840", StorageGB: 20, BackupDays: 7, Public: true,
	}
	tests := []struct {
		reason       string
		mutate       func(*databasev1alpha1.Database)
		externalName string
		region       string
		opts         sqlOptions
		want         func(*view)
		wantErr      string // a terminal error containing this
	}{
		{
			reason: "An empty spec takes the documented defaults.",
			want:   func(*view) {},
		},
		{
			reason: "Every portable field maps to its Cloud SQL setting.",
			mutate: func(db *databasev1alpha1.Database) {
				db.Spec.DatabaseName = "orders"
				db.Spec.Owner = "orders_rw"
				db.Spec.EngineVersion = "14"
				db.Spec.SizeClass = databasev1alpha1.SizeXLarge
				db.Spec.StorageGB = sqlInt32(250)
				db.Spec.HighAvailability = sqlBool(true)
				db.Spec.BackupRetentionDays = sqlInt32(0)
				db.Spec.DeletionProtection = true
				db.Spec.StorageEncrypted = sqlBool(true)
				db.Spec.PubliclyAccessible = sqlBool(false)
			},
			externalName: "orders",
			region:       "asia-northeast1",
			opts:         sqlOptions{privateNetwork: sqlTestNetwork},
			want: func(v *view) {
				*v = view{
					Instance: "orders", Database: "orders", Owner: "orders_rw", Region: "asia-northeast1",
					Version: "POSTGRES_14", VersionSet: true, Tier: "db-custom-8-30720", StorageGB: 250,
					HA: true, Protection: true,
				}
			},
		},
		{
			reason: "No region anywhere is Cloud SQL's default region.",
			region: "-",
			want:   func(v *view) { v.Region = sqlDefaultRegion },
		},
		{
			reason: "MySQL defaults to 8.0.",
			mutate: func(db *databasev1alpha1.Database) { db.Spec.Engine = databasev1alpha1.EngineMySQL },
			want:   func(v *view) { v.Version = "MYSQL_8_0" },
		},
		{
			reason:  "Cloud SQL always encrypts: storageEncrypted false cannot be honoured.",
			mutate:  func(db *databasev1alpha1.Database) { db.Spec.StorageEncrypted = sqlBool(false) },
			wantErr: "cannot honour spec.storageEncrypted false",
		},
		{
			reason:  "A PostgreSQL minor version cannot be chosen.",
			mutate:  func(db *databasev1alpha1.Database) { db.Spec.EngineVersion = "16.4" },
			wantErr: `set spec.engineVersion to the major version alone, such as "16"`,
		},
		{
			reason:       "An external name that makes no instance name is refused.",
			externalName: "_hidden",
			wantErr:      "is not valid",
		},
		{
			reason:       "An instance name longer than 98 characters is refused.",
			externalName: strings.Repeat("a", 99),
			wantErr:      "at most 98 characters",
		},
		{
			reason:  "Cloud SQL's own users are not the driver's to manage.",
			mutate:  func(db *databasev1alpha1.Database) { db.Spec.Owner = "postgres" },
			wantErr: "Cloud SQL keeps for itself",
		},
		{
			reason:  "Cloud SQL's own databases are not the driver's to manage.",
			mutate:  func(db *databasev1alpha1.Database) { db.Spec.DatabaseName = "cloudsqladmin" },
			wantErr: "Cloud SQL creates for itself",
		},
		{
			reason:  "No public address needs a private network.",
			mutate:  func(db *databasev1alpha1.Database) { db.Spec.PubliclyAccessible = sqlBool(false) },
			wantErr: "needs a private network",
		},
		{
			reason:  "Another engine cannot be honoured.",
			mutate:  func(db *databasev1alpha1.Database) { db.Spec.Engine = "oracle" },
			wantErr: `cannot honour spec.engine "oracle"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			db := sqlTestDatabase("db")
			if tt.mutate != nil {
				tt.mutate(db)
			}
			ext := tt.externalName
			if ext == "" {
				ext = "test_db"
			}
			region := tt.region
			switch region {
			case "":
				region = sqlTestRegion
			case "-":
				region = ""
			}
			got, err := sqlTargetFor(db, ext, region, tt.opts)
			if tt.wantErr != "" {
				if !driver.IsTerminal(err) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("%s\nsqlTargetFor(...): %v; want a terminal error containing %q", tt.reason, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nsqlTargetFor(...): %v", tt.reason, err)
			}
			want := defaults
			tt.want(&want)
			v := view{got.instance, got.database, got.owner, got.region, got.version, got.tier, got.versionSet,
				got.storageGB, got.backupDays, got.highAvailability, got.deletionProtection, got.public}
			if diff := cmp.Diff(want, v); diff != "" {
				t.Errorf("%s\nsqlTargetFor(...): -want, +got:\n%s", tt.reason, diff)
			}
		})
	}
}

func TestCloudSQLEngineVersions(t *testing.T) {
	tests := []struct {
		reason  string
		engine  databasev1alpha1.Engine
		version string
		want    string
	}{
		{"PostgreSQL defaults to 16.", databasev1alpha1.EnginePostgres, "", "POSTGRES_16"},
		{"A PostgreSQL major version maps to POSTGRES_<major>.", databasev1alpha1.EnginePostgres, "13", "POSTGRES_13"},
		{"PostgreSQL 9.6 keeps its minor version.", databasev1alpha1.EnginePostgres, "9.6", "POSTGRES_9_6"},
		{"MySQL defaults to 8.0.", databasev1alpha1.EngineMySQL, "", "MYSQL_8_0"},
		{"MySQL 8 is 8.0.", databasev1alpha1.EngineMySQL, "8", "MYSQL_8_0"},
		{"MySQL 8.4 maps to MYSQL_8_4.", databasev1alpha1.EngineMySQL, "8.4", "MYSQL_8_4"},
	}
	for _, tt := range tests {
		got, err := sqlDatabaseVersion(tt.engine, tt.version)
		if err != nil || got != tt.want {
			t.Errorf("%s\nsqlDatabaseVersion(%s, %q) = %q, %v; want %q", tt.reason, tt.engine, tt.version, got, err, tt.want)
		}
	}
	for dv, want := range map[string]string{"POSTGRES_16": "16", "POSTGRES_9_6": "9.6", "MYSQL_8_0": "8.0"} {
		if got := sqlEngineVersion(dv); got != want {
			t.Errorf("sqlEngineVersion(%s) = %q, want %q", dv, got, want)
		}
	}
}

// sqlJSON is the JSON the sqladmin client sends for v, decoded.
func sqlJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCloudSQLInsertBody(t *testing.T) {
	db := sqlTestDatabase("db", func(db *databasev1alpha1.Database) {
		db.Spec.BackupRetentionDays = sqlInt32(0)
		db.Spec.PubliclyAccessible = sqlBool(false)
	})
	target, err := sqlTargetFor(db, "test_db", sqlTestRegion, sqlOptions{privateNetwork: sqlTestNetwork})
	if err != nil {
		t.Fatal(err)
	}
	// False booleans are sent, since Cloud SQL's defaults differ (a public
	// address); int64 fields such as dataDiskSizeGb are JSON strings.
	want := map[string]any{
		"name":            "test-db",
		"databaseVersion": "POSTGRES_16",
		"region":          sqlTestRegion,
		"settings": map[string]any{
			"tier":                      "db-custom-1-3840",
			"edition":                   "ENTERPRISE",
			"dataDiskSizeGb":            "20",
			"availabilityType":          "ZONAL",
			"deletionProtectionEnabled": false,
			"backupConfiguration":       map[string]any{"enabled": false},
			"ipConfiguration": map[string]any{
				"ipv4Enabled":    false,
				"privateNetwork": sqlTestNetwork,
				"sslMode":        "ENCRYPTED_ONLY",
			},
		},
	}
	if diff := cmp.Diff(want, sqlJSON(t, target.newInstance(driver.Owner{}))); diff != "" {
		t.Errorf("instances.insert body without an owner -want, +got:\n%s", diff)
	}

	// The owner mark is in the insert itself.
	owner := driver.Owner{Cluster: "c", Namespace: "test", Name: "db", UID: "6f1c2d3e-aaaa-bbbb-cccc-0123456789ab"}
	want["settings"].(map[string]any)["userLabels"] = map[string]any{
		driver.OwnerLabel: owner.ID(), driver.OwnerNamespaceLabel: "test", driver.OwnerNameLabel: "db", driver.OwnerUIDLabel: owner.UID,
	}
	if diff := cmp.Diff(want, sqlJSON(t, target.newInstance(owner))); diff != "" {
		t.Errorf("instances.insert body with an owner -want, +got:\n%s", diff)
	}
}

func TestCloudSQLPatchBody(t *testing.T) {
	// observed is an instance as Cloud SQL returns it for a Database with
	// the defaults.
	observed := func(mutate func(*sqladmin.DatabaseInstance)) *sqladmin.DatabaseInstance {
		in := &sqladmin.DatabaseInstance{
			Name: "test-db", DatabaseVersion: "POSTGRES_16", Region: sqlTestRegion, State: sqlStateRunnable,
			Settings: &sqladmin.Settings{
				Tier: "db-custom-1-3840", DataDiskSizeGb: 20, AvailabilityType: sqlZonal,
				BackupConfiguration: &sqladmin.BackupConfiguration{Enabled: true, BackupRetentionSettings: &sqladmin.BackupRetentionSettings{RetainedBackups: 7}},
				IpConfiguration:     &sqladmin.IpConfiguration{Ipv4Enabled: true},
			},
		}
		if mutate != nil {
			mutate(in)
		}
		return in
	}
	owner := driver.Owner{Cluster: "c", Namespace: "test", Name: "db", UID: "uid-1"}
	other := driver.Owner{Cluster: "c", Namespace: "other", Name: "db"}
	ownerJSON := map[string]any{driver.OwnerLabel: owner.ID(), driver.OwnerNamespaceLabel: "test", driver.OwnerNameLabel: "db", driver.OwnerUIDLabel: "uid-1"}
	labelsJSON := func(extra map[string]any) map[string]any {
		out := maps.Clone(ownerJSON)
		maps.Copy(out, extra)
		return out
	}
	tests := []struct {
		reason string
		spec   func(*databasev1alpha1.Database)
		owner  driver.Owner
		in     *sqladmin.DatabaseInstance
		want   map[string]any // nil: no patch
	}{
		{
			reason: "An instance that carries the owner's mark needs no patch.",
			owner:  owner,
			in:     observed(func(in *sqladmin.DatabaseInstance) { in.Settings.UserLabels = owner.Labels() }),
		},
		{
			reason: "An unmarked instance gets the mark, over the labels it has, which stay.",
			owner:  owner,
			in:     observed(func(in *sqladmin.DatabaseInstance) { in.Settings.UserLabels = map[string]string{"team": "data"} }),
			want:   map[string]any{"settings": map[string]any{"userLabels": labelsJSON(map[string]any{"team": "data"})}},
		},
		{
			reason: "An instance without labels gets the mark.",
			owner:  owner,
			in:     observed(nil),
			want:   map[string]any{"settings": map[string]any{"userLabels": ownerJSON}},
		},
		{
			reason: "Another owner's mark is replaced key by key; none of its labels is removed.",
			owner:  owner,
			in: observed(func(in *sqladmin.DatabaseInstance) {
				in.Settings.UserLabels = map[string]string{"team": "data", driver.OwnerLabel: other.ID(), driver.OwnerNamespaceLabel: "other", driver.OwnerNameLabel: "db", driver.OwnerUIDLabel: "uid-0"}
			}),
			want: map[string]any{"settings": map[string]any{"userLabels": labelsJSON(map[string]any{"team": "data"})}},
		},
		{
			reason: "The mark goes in the same patch as the settings.",
			spec:   func(db *databasev1alpha1.Database) { db.Spec.SizeClass = databasev1alpha1.SizeMedium },
			owner:  owner,
			in:     observed(nil),
			want:   map[string]any{"settings": map[string]any{"tier": "db-custom-2-7680", "userLabels": ownerJSON}},
		},
		{
			reason: "A request without an owner writes no mark and keeps the one there is.",
			in: observed(func(in *sqladmin.DatabaseInstance) {
				in.Settings.UserLabels = map[string]string{driver.OwnerLabel: other.ID()}
			}),
		},
		{
			reason: "An instance that matches needs no patch.",
			in:     observed(nil),
		},
		{
			reason: "A disk that grew beyond spec.storageGB needs no patch.",
			in:     observed(func(in *sqladmin.DatabaseInstance) { in.Settings.DataDiskSizeGb = 80 }),
		},
		{
			reason: "Deletion protection turned on behind the spec's back is turned off with a false that is sent.",
			in:     observed(func(in *sqladmin.DatabaseInstance) { in.Settings.DeletionProtectionEnabled = true }),
			want:   map[string]any{"settings": map[string]any{"deletionProtectionEnabled": false}},
		},
		{
			reason: "Backups turned off: only the backup configuration is sent.",
			spec:   func(db *databasev1alpha1.Database) { db.Spec.BackupRetentionDays = sqlInt32(0) },
			in:     observed(nil),
			want:   map[string]any{"settings": map[string]any{"backupConfiguration": map[string]any{"enabled": false}}},
		},
		{
			reason: "A new retention is sent with backups enabled.",
			spec:   func(db *databasev1alpha1.Database) { db.Spec.BackupRetentionDays = sqlInt32(3) },
			in:     observed(nil),
			want: map[string]any{"settings": map[string]any{"backupConfiguration": map[string]any{
				"enabled": true, "backupRetentionSettings": map[string]any{"retainedBackups": float64(3), "retentionUnit": "COUNT"},
			}}},
		},
		{
			reason: "A version upgrade is a top-level databaseVersion, without settings.",
			spec:   func(db *databasev1alpha1.Database) { db.Spec.EngineVersion = "17" },
			in:     observed(nil),
			want:   map[string]any{"databaseVersion": "POSTGRES_17"},
		},
		{
			reason: "An instance of another version is not upgraded when spec.engineVersion is unset.",
			in:     observed(func(in *sqladmin.DatabaseInstance) { in.DatabaseVersion = "POSTGRES_14" }),
		},
		{
			reason: "Size, storage and availability in one patch.",
			spec: func(db *databasev1alpha1.Database) {
				db.Spec.SizeClass = databasev1alpha1.SizeMedium
				db.Spec.StorageGB = sqlInt32(40)
				db.Spec.HighAvailability = sqlBool(true)
			},
			in: observed(nil),
			want: map[string]any{"settings": map[string]any{
				"tier": "db-custom-2-7680", "dataDiskSizeGb": "40", "availabilityType": "REGIONAL",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			db := sqlTestDatabase("db")
			if tt.spec != nil {
				tt.spec(db)
			}
			target, err := sqlTargetFor(db, "test_db", sqlTestRegion, sqlOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p := target.patch(tt.in, tt.owner)
			var got map[string]any
			if p != nil {
				got = sqlJSON(t, p)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s\ninstances.patch body -want, +got:\n%s", tt.reason, diff)
			}
			drift := append(target.drift(tt.in), driver.OwnershipDrift(tt.owner, sqlOwnerMark(tt.in))...)
			if (p == nil) != (len(drift) == 0) {
				t.Errorf("%s\npatch and drift disagree: patch %v, drift %v", tt.reason, p != nil, drift)
			}
		})
	}
}

func TestCloudSQLHost(t *testing.T) {
	tests := []struct {
		reason string
		ips    []*sqladmin.IpMapping
		want   string
	}{
		{"The public address is the host.", []*sqladmin.IpMapping{{Type: "OUTGOING", IpAddress: "1.1.1.1"}, {Type: "PRIVATE", IpAddress: "10.0.0.3"}, {Type: "PRIMARY", IpAddress: "203.0.113.9"}}, "203.0.113.9"},
		{"Without one, the private address is.", []*sqladmin.IpMapping{{Type: "PRIVATE", IpAddress: "10.0.0.3"}}, "10.0.0.3"},
		{"An instance being created has none.", nil, ""},
	}
	for _, tt := range tests {
		if got := sqlHost(&sqladmin.DatabaseInstance{IpAddresses: tt.ips}); got != tt.want {
			t.Errorf("%s\nsqlHost(...) = %q, want %q", tt.reason, got, tt.want)
		}
	}
}
