package aws

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/google/go-cmp/cmp"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

func TestInstanceIdentifier(t *testing.T) {
	type want struct {
		ID   string
		Kind string
	}
	cases := map[string]struct {
		reason string
		name   string
		want   want
	}{
		"Plain":              {reason: "A name of letters and digits is its own identifier.", name: "orders2", want: want{ID: "orders2"}},
		"Underscores":        {reason: "Underscores, as in derived database names, become hyphens.", name: "team_a_orders", want: want{ID: "team-a-orders"}},
		"Uppercase":          {reason: "RDS keeps identifiers in lowercase.", name: "Orders", want: want{ID: "orders"}},
		"Longest":            {reason: "63 characters are allowed.", name: strings.Repeat("a", 63), want: want{ID: strings.Repeat("a", 63)}},
		"TooLong":            {reason: "64 characters are not.", name: strings.Repeat("a", 64), want: want{Kind: "Terminal"}},
		"LeadingDigit":       {reason: "An identifier starts with a letter.", name: "1team_orders", want: want{Kind: "Terminal"}},
		"LeadingUnderscore":  {reason: "A leading underscore becomes a leading hyphen.", name: "_orders", want: want{Kind: "Terminal"}},
		"TrailingUnderscore": {reason: "A trailing underscore becomes a trailing hyphen.", name: "orders_", want: want{Kind: "Terminal"}},
		"DoubleUnderscore":   {reason: "Two underscores become two hyphens in a row.", name: "team__orders", want: want{Kind: "Terminal"}},
		"Dot":                {reason: "Dots are not allowed.", name: "team.orders", want: want{Kind: "Terminal"}},
		"Empty":              {reason: "An empty name maps to nothing.", name: "", want: want{Kind: "Terminal"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			id, err := instanceIdentifier(tc.name)
			got := want{ID: id}
			if err != nil {
				got.Kind = kind(err)
				if !strings.Contains(err.Error(), "set spec.databaseName or the stratus.dev/external-name annotation") {
					t.Errorf("%s\ninstanceIdentifier(%q): %v: the error does not say what to do", tc.reason, tc.name, err)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\ninstanceIdentifier(%q): -want, +got:\n%s", tc.reason, tc.name, diff)
			}
		})
	}
}

// settingsView is instanceSettings with exported fields, for diffs.
type settingsView struct {
	ID, Engine, Version, Class  string
	Storage, Retention          int32
	MultiAZ, Encrypted, Public  bool
	Protection                  bool
	DBName, MasterUser, Problem string
}

func viewSettings(s instanceSettings, err error) settingsView {
	if err != nil {
		return settingsView{Problem: kind(err)}
	}
	return settingsView{
		ID: s.identifier, Engine: s.engine.name, Version: s.engineVersion, Class: s.class,
		Storage: s.storageGB, Retention: s.backupRetention, MultiAZ: s.multiAZ, Encrypted: s.encrypted,
		Public: s.public, Protection: s.deletionProtection, DBName: s.dbName, MasterUser: s.masterUsername,
	}
}

func TestSettingsFor(t *testing.T) {
	cases := map[string]struct {
		reason       string
		externalName string
		spec         databasev1alpha1.DatabaseSpec
		want         settingsView
	}{
		"Defaults": {
			reason:       "An empty spec is a small encrypted private PostgreSQL instance with 20 GiB, a week of backups, the external name as database and stratus_admin as master user.",
			externalName: "team_a_orders",
			want: settingsView{ID: "team-a-orders", Engine: "postgres", Class: "db.t4g.small", Storage: 20, Retention: 7,
				Encrypted: true, DBName: "team_a_orders", MasterUser: "stratus_admin"},
		},
		"Everything": {
			reason:       "Every field of the spec maps to its RDS setting.",
			externalName: "orders",
			spec: databasev1alpha1.DatabaseSpec{
				Engine: databasev1alpha1.EngineMySQL, EngineVersion: "8.0", DatabaseName: "shop", Owner: "shop_admin",
				SizeClass: databasev1alpha1.SizeXLarge, StorageGB: aws.Int32(100), BackupRetentionDays: aws.Int32(0),
				HighAvailability: aws.Bool(true), StorageEncrypted: aws.Bool(false), PubliclyAccessible: aws.Bool(true),
				DeletionProtection: true,
			},
			want: settingsView{ID: "orders", Engine: "mysql", Version: "8.0", Class: "db.m6g.2xlarge", Storage: 100,
				MultiAZ: true, Public: true, Protection: true, DBName: "shop", MasterUser: "shop_admin"},
		},
		"Medium": {reason: "Medium is db.m6g.large.", externalName: "m", spec: databasev1alpha1.DatabaseSpec{SizeClass: databasev1alpha1.SizeMedium},
			want: settingsView{ID: "m", Engine: "postgres", Class: "db.m6g.large", Storage: 20, Retention: 7, Encrypted: true, DBName: "m", MasterUser: "stratus_admin"}},
		"Large": {reason: "Large is db.m6g.xlarge.", externalName: "l", spec: databasev1alpha1.DatabaseSpec{SizeClass: databasev1alpha1.SizeLarge},
			want: settingsView{ID: "l", Engine: "postgres", Class: "db.m6g.xlarge", Storage: 20, Retention: 7, Encrypted: true, DBName: "l", MasterUser: "stratus_admin"}},
		"UnknownSize": {reason: "A size class the CRD would refuse is terminal.", externalName: "x", spec: databasev1alpha1.DatabaseSpec{SizeClass: "Huge"},
			want: settingsView{Problem: "Terminal"}},
		"UnknownEngine": {reason: "An engine the driver does not manage is terminal.", externalName: "x", spec: databasev1alpha1.DatabaseSpec{Engine: "oracle"},
			want: settingsView{Problem: "Terminal"}},
		"BadName": {reason: "An external name that is no identifier is terminal.", externalName: "9lives",
			want: settingsView{Problem: "Terminal"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			db := &databasev1alpha1.Database{Spec: tc.spec}
			if diff := cmp.Diff(tc.want, viewSettings(settingsFor(db, tc.externalName))); diff != "" {
				t.Errorf("%s\nsettingsFor(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestValidateNames(t *testing.T) {
	cases := map[string]struct {
		reason string
		spec   databasev1alpha1.DatabaseSpec
		name   string
		want   string
	}{
		"Valid":              {reason: "Letters, digits and underscores starting with a letter are fine.", name: "orders", spec: databasev1alpha1.DatabaseSpec{Owner: "orders_admin"}, want: ""},
		"LeadingUnderscore":  {reason: "RDS database names start with a letter.", name: "orders", spec: databasev1alpha1.DatabaseSpec{DatabaseName: "_orders"}, want: "Terminal"},
		"OwnerUnderscore":    {reason: "RDS master user names start with a letter.", name: "orders", spec: databasev1alpha1.DatabaseSpec{Owner: "_admin"}, want: "Terminal"},
		"MySQLOwnerTooLong":  {reason: "MySQL master user names have at most 32 characters.", name: "orders", spec: databasev1alpha1.DatabaseSpec{Engine: databasev1alpha1.EngineMySQL, Owner: strings.Repeat("a", 33)}, want: "Terminal"},
		"PostgresOwnerLong":  {reason: "PostgreSQL master user names may have 63.", name: "orders", spec: databasev1alpha1.DatabaseSpec{Owner: strings.Repeat("a", 63)}, want: ""},
		"ReservedMasterUser": {reason: "rdsadmin is RDS's own.", name: "orders", spec: databasev1alpha1.DatabaseSpec{Owner: "rdsadmin"}, want: "Terminal"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := settingsFor(&databasev1alpha1.Database{Spec: tc.spec}, tc.name)
			if err != nil {
				t.Fatalf("settingsFor(...): %v", err)
			}
			got := ""
			if err := s.validateNames(); err != nil {
				got = kind(err)
			}
			if got != tc.want {
				t.Errorf("%s\nvalidateNames() = %q, want %q", tc.reason, got, tc.want)
			}
		})
	}
}

// inLine is an instance that matches the default settings of "orders".
func inLine() observedInstance {
	return observedInstance{
		status: "available", engine: "postgres", engineVersion: "16.9", class: "db.t4g.small", storageGB: 20,
		backupRetention: 7, encrypted: true, dbName: "orders", masterUsername: "stratus_admin",
		address: "orders.cabc.us-east-1.rds.amazonaws.com", port: 5432,
	}
}

func defaultSettings(t *testing.T, spec databasev1alpha1.DatabaseSpec) instanceSettings {
	t.Helper()
	s, err := settingsFor(&databasev1alpha1.Database{Spec: spec}, "orders")
	if err != nil {
		t.Fatalf("settingsFor(...): %v", err)
	}
	return s
}

func TestInstanceDrift(t *testing.T) {
	cases := map[string]struct {
		reason   string
		spec     databasev1alpha1.DatabaseSpec
		instance func(*observedInstance)
		want     []stratusv1alpha1.DriftedField
	}{
		"InLine": {
			reason: "An instance with the spec's settings and a minor version of its major version has no drift.",
			spec:   databasev1alpha1.DatabaseSpec{EngineVersion: "16"},
		},
		"PendingMatchesSpec": {
			reason: "A modification RDS is applying that matches the spec is not drift.",
			spec:   databasev1alpha1.DatabaseSpec{SizeClass: databasev1alpha1.SizeLarge, StorageGB: aws.Int32(40), EngineVersion: "17"},
			instance: func(o *observedInstance) {
				o.pendingClass, o.pendingStorageGB, o.pendingEngineVersion = "db.m6g.xlarge", aws.Int32(40), "17.5"
			},
		},
		"PendingDiffers": {
			reason:   "A queued modification other than the spec is drift, even if the current value matches.",
			instance: func(o *observedInstance) { o.pendingStorageGB, o.pendingMultiAZ = aws.Int32(30), aws.Bool(true) },
			want: []stratusv1alpha1.DriftedField{
				{Field: "spec.storageGB", Desired: "20", Observed: "20 (pending 30)"},
				{Field: "spec.highAvailability", Desired: "false", Observed: "false (pending true)"},
			},
		},
		"EveryMutableField": {
			reason: "Each mutable field is compared, in a fixed order, with the size class named.",
			spec:   databasev1alpha1.DatabaseSpec{EngineVersion: "16", DeletionProtection: true},
			instance: func(o *observedInstance) {
				o.class, o.storageGB, o.backupRetention, o.multiAZ, o.public, o.engineVersion = "db.m6g.large", 30, 1, true, true, "17.5"
			},
			want: []stratusv1alpha1.DriftedField{
				{Field: "spec.sizeClass", Desired: "Small (db.t4g.small)", Observed: "Medium (db.m6g.large)"},
				{Field: "spec.storageGB", Desired: "20", Observed: "30"},
				{Field: "spec.backupRetentionDays", Desired: "7", Observed: "1"},
				{Field: "spec.highAvailability", Desired: "false", Observed: "true"},
				{Field: "spec.publiclyAccessible", Desired: "false", Observed: "true"},
				{Field: "spec.deletionProtection", Desired: "true", Observed: "false"},
				{Field: "spec.engineVersion", Desired: "16", Observed: "17.5"},
			},
		},
		"ImmutableFields": {
			reason:   "Fields RDS cannot change are reported too, first.",
			instance: func(o *observedInstance) { o.encrypted, o.masterUsername, o.dbName = false, "admin", "other" },
			want: []stratusv1alpha1.DriftedField{
				{Field: "spec.databaseName", Desired: "orders", Observed: "other"},
				{Field: "spec.owner", Desired: "stratus_admin", Observed: "admin"},
				{Field: "spec.storageEncrypted", Desired: "true", Observed: "false"},
			},
		},
		"UnsetVersion": {
			reason:   "Without spec.engineVersion any version matches.",
			instance: func(o *observedInstance) { o.engineVersion = "17.5" },
		},
		"VersionPrefixIsNotMinor": {
			reason:   "Version 1 is not a prefix of 16.9's major version.",
			spec:     databasev1alpha1.DatabaseSpec{EngineVersion: "1"},
			instance: func(o *observedInstance) {},
			want:     []stratusv1alpha1.DriftedField{{Field: "spec.engineVersion", Desired: "1", Observed: "16.9"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := inLine()
			if tc.instance != nil {
				tc.instance(&o)
			}
			if diff := cmp.Diff(tc.want, instanceDrift(defaultSettings(t, tc.spec), o)); diff != "" {
				t.Errorf("%s\ninstanceDrift(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestModifyInput(t *testing.T) {
	type want struct {
		Input *rds.ModifyDBInstanceInput
		Kind  string
		Err   string
	}
	cases := map[string]struct {
		reason   string
		spec     databasev1alpha1.DatabaseSpec
		instance func(*observedInstance)
		want     want
	}{
		"NothingToDo": {reason: "An instance in line needs no modification.", spec: databasev1alpha1.DatabaseSpec{EngineVersion: "16"}},
		"OnlyDrifted": {
			reason:   "Only the drifted fields are sent, applied immediately.",
			spec:     databasev1alpha1.DatabaseSpec{SizeClass: databasev1alpha1.SizeMedium, HighAvailability: aws.Bool(true)},
			instance: func(o *observedInstance) {},
			want: want{Input: &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("orders"), ApplyImmediately: aws.Bool(true),
				DBInstanceClass: aws.String("db.m6g.large"), MultiAZ: aws.Bool(true)}},
		},
		"MajorUpgrade": {
			reason: "A new major version allows the major version upgrade.",
			spec:   databasev1alpha1.DatabaseSpec{EngineVersion: "17"},
			want: want{Input: &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("orders"), ApplyImmediately: aws.Bool(true),
				EngineVersion: aws.String("17"), AllowMajorVersionUpgrade: aws.Bool(true)}},
		},
		"MinorUpgrade": {
			reason: "A minor version of the same major version does not.",
			spec:   databasev1alpha1.DatabaseSpec{EngineVersion: "16.10"},
			want: want{Input: &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("orders"), ApplyImmediately: aws.Bool(true),
				EngineVersion: aws.String("16.10")}},
		},
		"Downgrade": {
			reason: "RDS cannot downgrade: terminal.",
			spec:   databasev1alpha1.DatabaseSpec{EngineVersion: "15"},
			want:   want{Kind: "Terminal", Err: `spec.engineVersion "15" is older than the version 16.9 RDS instance "orders" runs, and RDS cannot downgrade an engine: set spec.engineVersion to "16" or later`},
		},
		"Shrink": {
			reason:   "RDS cannot shrink storage: terminal.",
			spec:     databasev1alpha1.DatabaseSpec{StorageGB: aws.Int32(20)},
			instance: func(o *observedInstance) { o.storageGB = 50 },
			want:     want{Kind: "Terminal", Err: `spec.storageGB is 20 but RDS instance "orders" has 50 GiB allocated, and RDS cannot shrink storage: set spec.storageGB to 50 or more`},
		},
		"StorageEncryptedOff": {
			reason:   "Turning encryption off is terminal, and nothing else is changed.",
			spec:     databasev1alpha1.DatabaseSpec{StorageEncrypted: aws.Bool(false), SizeClass: databasev1alpha1.SizeLarge},
			instance: func(o *observedInstance) {},
			want:     want{Kind: "Terminal", Err: `spec.storageEncrypted is false but the storage of RDS instance "orders" is encrypted, and RDS cannot decrypt an existing instance: set spec.storageEncrypted to true (the default)`},
		},
		"StorageEncryptedOn": {
			reason:   "Turning encryption on is terminal.",
			instance: func(o *observedInstance) { o.encrypted = false },
			want:     want{Kind: "Terminal", Err: `spec.storageEncrypted is true but the storage of RDS instance "orders" is not encrypted, and RDS cannot encrypt an existing instance`},
		},
		"Owner": {
			reason: "The master user cannot be renamed: terminal.",
			spec:   databasev1alpha1.DatabaseSpec{Owner: "orders_admin"},
			want:   want{Kind: "Terminal", Err: `spec.owner is "orders_admin" but RDS instance "orders" was created with master user "stratus_admin", which RDS cannot rename: set spec.owner to "stratus_admin"`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := inLine()
			if tc.instance != nil {
				tc.instance(&o)
			}
			in, err := modifyInput(defaultSettings(t, tc.spec), o)
			got := want{Input: in}
			if err != nil {
				got.Kind, got.Err = kind(err), err.Error()
				if strings.HasPrefix(got.Err, tc.want.Err) {
					got.Err = tc.want.Err
				}
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(rds.ModifyDBInstanceInput{})); diff != "" {
				t.Errorf("%s\nmodifyInput(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestConnectionDetails(t *testing.T) {
	pg := defaultSettings(t, databasev1alpha1.DatabaseSpec{})
	my, err := settingsFor(&databasev1alpha1.Database{Spec: databasev1alpha1.DatabaseSpec{Engine: databasev1alpha1.EngineMySQL}}, "orders")
	if err != nil {
		t.Fatal(err)
	}
	creating := inLine()
	creating.address, creating.port = "", 0
	mysql := inLine()
	mysql.port = 3306
	cases := map[string]struct {
		reason   string
		settings instanceSettings
		instance *observedInstance
		password string
		want     map[string]string
	}{
		"Available": {
			reason: "With an endpoint and a password, every key is there, the URI with TLS required.", settings: pg, instance: ptr(inLine()), password: "pw",
			want: map[string]string{"host": "orders.cabc.us-east-1.rds.amazonaws.com", "port": "5432", "user": "stratus_admin", "password": "pw",
				"database": "orders", "sslmode": "require", "uri": "postgresql://stratus_admin:pw@orders.cabc.us-east-1.rds.amazonaws.com:5432/orders?sslmode=require"},
		},
		"Creating": {
			reason: "Before RDS has an endpoint there is no host, port or URI.", settings: pg, instance: &creating, password: "pw",
			want: map[string]string{"user": "stratus_admin", "password": "pw", "database": "orders", "sslmode": "require"},
		},
		"NoPassword": {
			reason: "Without a password neither it nor the URI is published.", settings: pg, instance: ptr(inLine()),
			want: map[string]string{"host": "orders.cabc.us-east-1.rds.amazonaws.com", "port": "5432", "user": "stratus_admin", "database": "orders", "sslmode": "require"},
		},
		"MySQL": {
			reason: "A MySQL URI requires TLS with ssl-mode.", settings: my, instance: &mysql, password: "pw",
			want: map[string]string{"host": "orders.cabc.us-east-1.rds.amazonaws.com", "port": "3306", "user": "stratus_admin", "password": "pw",
				"database": "orders", "sslmode": "require", "uri": "mysql://stratus_admin:pw@orders.cabc.us-east-1.rds.amazonaws.com:3306/orders?ssl-mode=REQUIRED"},
		},
		"NotYetRead": {
			reason: "Without an instance the spec's user and database are used.", settings: pg, password: "pw",
			want: map[string]string{"user": "stratus_admin", "password": "pw", "database": "orders", "sslmode": "require"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := map[string]string{}
			for k, v := range connectionDetails(tc.settings, tc.instance, tc.password) {
				got[k] = string(v)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nconnectionDetails(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestGenerateCredentials(t *testing.T) {
	generate := NewDatabaseDriver().GenerateCredentials
	seen := map[string]bool{}
	for range 20 {
		creds, err := generate()
		if err != nil {
			t.Fatalf("GenerateCredentials(): %v", err)
		}
		if diff := cmp.Diff([]string{"password"}, keys(creds)); diff != "" {
			t.Fatalf("GenerateCredentials() keys: -want, +got:\n%s", diff)
		}
		p := string(creds["password"])
		if len(p) != 32 || strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("GenerateCredentials() password %q: want 32 ASCII letters and digits", p)
		}
		if seen[p] {
			t.Errorf("GenerateCredentials() returned %q twice", p)
		}
		seen[p] = true
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestFinalSnapshotIdentifier(t *testing.T) {
	got := finalSnapshotIdentifier("team-a-orders", timeUnix(1700000000))
	if want := "team-a-orders-final-1700000000"; got != want {
		t.Errorf("finalSnapshotIdentifier(...) = %q, want %q", got, want)
	}
}
