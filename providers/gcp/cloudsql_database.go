package gcp

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"google.golang.org/api/option"
	sqladmin "google.golang.org/api/sqladmin/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// sqlOperationDone is the status of a finished Cloud SQL operation.
const sqlOperationDone = "DONE"

// sqlProjectEnv names the project when the credentials are ambient and name
// none.
const sqlProjectEnv = "GOOGLE_CLOUD_PROJECT"

// sqlErrNoPassword is returned when the connection Secret lacks the owner's
// password, which the reconciler generates before Create.
var sqlErrNoPassword = errors.New("the connection Secret has no password for the owner (the reconciler generates one before Create)")

// sqlOptions configure the Cloud SQL driver.
type sqlOptions struct {
	privateNetwork string
}

// CloudSQLOption configures the driver NewDatabaseDriver returns.
type CloudSQLOption func(*sqlOptions)

// WithCloudSQLPrivateNetwork sets the VPC network, such as
// projects/my-project/global/networks/default, that instances without a
// public address (spec.publiclyAccessible false) get their private address
// in. The network must have private services access set up. Without it, a
// Database with spec.publiclyAccessible false is rejected.
func WithCloudSQLPrivateNetwork(network string) CloudSQLOption {
	return func(o *sqlOptions) { o.privateNetwork = network }
}

// NewDatabaseDriver returns the Cloud SQL driver for Databases. A Database
// is a Cloud SQL instance named after its external name ('_' made '-'), the
// database inside it (spec.databaseName, else the external name) and the
// owner user (spec.owner, else stratus_admin), whose password the reconciler
// generates (the registration's GenerateCredentials) and which is delivered
// only in the connection details. The registration's CloudName is the
// instance name, so that the reconciler refuses an external name that makes
// no valid one before anything is recorded or called.
//
// Creating an instance takes minutes: Create only starts it, and Observe
// reports the instance Exists but not Available, with Cloud SQL's state
// (PENDING_CREATE), until it is RUNNABLE. Observe never changes the cloud:
// once the instance runs, it reports the missing database and owner as drift
// of spec.databaseName and spec.owner, and Update creates them. Every change
// is one Cloud SQL operation, during which the instance accepts no other;
// Update starts at most one at a time that is not done at once and returns,
// and the next reconcile, after Observe saw the instance RUNNABLE again,
// goes on. No call waits for an operation.
func NewDatabaseDriver(opts ...CloudSQLOption) driver.Registration[*databasev1alpha1.Database] {
	o := sqlOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	connect := func(ctx context.Context, cfg driver.Config) (driver.Client[*databasev1alpha1.Database], error) {
		c, err := sqlConnect(ctx, cfg, o)
		if err != nil {
			return nil, err // not a nil *sqlClient in a non-nil interface
		}
		return c, nil
	}
	return driver.Registration[*databasev1alpha1.Database]{
		Driver:              driver.DriverFunc[*databasev1alpha1.Database](connect),
		GenerateCredentials: driver.GeneratePassword,
		CloudName:           sqlCloudName,
	}
}

// sqlConnect returns a Cloud SQL Admin client for cfg. It makes no API call.
func sqlConnect(ctx context.Context, cfg driver.Config, o sqlOptions) (*sqlClient, error) {
	conn, err := connect(ctx, cfg, "Cloud SQL")
	if err != nil {
		return nil, err
	}
	if key := cfg.Credentials[KeyCredentialsJSON]; len(key) > 0 && !sqlValidPrivateKey(key) {
		// Caught here, the error is bad credentials at once rather than a
		// parse error at each call.
		return nil, driver.BadCredentials(fmt.Errorf("connect to Cloud SQL: the private_key of the service-account key in %q is not a PEM-encoded RSA key", KeyCredentialsJSON))
	}
	opts := slices.Clone(conn.options)
	if e := cfg.Spec.Endpoint; e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, driver.Terminalf("connect to Cloud SQL: the provider configuration's endpoint %q is not an http(s) URL", e)
		}
		// The client appends paths such as v1/projects/... to its base
		// URL, which must end with a slash.
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(e, "/")+"/"))
	}
	// The client outlives the reconcile that connects it: the token source
	// must not stop working when that reconcile's context is canceled.
	svcCtx := context.WithoutCancel(ctx)
	project := conn.project
	switch {
	case project == "" && cfg.Spec.Credentials.Source == stratusv1alpha1.CredentialsSourceSecret:
		return nil, driver.BadCredentials(fmt.Errorf("connect to Cloud SQL: the service-account key in %q has no project_id, the project to manage instances in", KeyCredentialsJSON))
	case project == "":
		creds, p, err := sqlAmbientProject(svcCtx)
		if err != nil {
			return nil, err
		}
		project = p
		if creds != nil {
			opts = append(opts, option.WithAuthCredentials(creds))
		}
	}
	opts, err = withCallMetrics(svcCtx, serviceSQLAdmin, opts, sqlAdminDefaults()...)
	if err != nil {
		return nil, driver.BadCredentials(fmt.Errorf("connect to Cloud SQL: %w", err))
	}
	svc, err := sqladmin.NewService(svcCtx, opts...)
	if err != nil {
		return nil, driver.BadCredentials(fmt.Errorf("connect to Cloud SQL: %w", err))
	}
	return &sqlClient{svc: svc, project: project, opts: o}, nil
}

// sqlValidPrivateKey reports whether a service-account key file's
// private_key parses, as the token source will parse it.
func sqlValidPrivateKey(key []byte) bool {
	var sa struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(key, &sa); err != nil {
		return false
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return false
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return true
	}
	_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	return err == nil
}

// sqlAmbientProject finds the project of ambient credentials: the
// GOOGLE_CLOUD_PROJECT variable, else the project Application Default
// Credentials name (the metadata server's, on GKE). It returns the detected
// credentials, if it detected them, for the client to reuse.
func sqlAmbientProject(ctx context.Context) (*auth.Credentials, string, error) {
	if p := os.Getenv(sqlProjectEnv); p != "" {
		return nil, p, nil
	}
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{scopeCloudPlatform}})
	if err != nil {
		return nil, "", driver.BadCredentials(fmt.Errorf("connect to Cloud SQL: find Application Default Credentials: %w", err))
	}
	p, err := creds.ProjectID(ctx)
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("connect to Cloud SQL: find the project of the ambient credentials: %w", err)
	case p == "":
		return nil, "", driver.Terminalf("connect to Cloud SQL: the ambient credentials name no project: set %s in the operator's environment, or use a service-account key", sqlProjectEnv)
	}
	return creds, p, nil
}

// sqlClient manages Cloud SQL instances of one project.
type sqlClient struct {
	svc     *sqladmin.Service
	project string
	opts    sqlOptions
}

var _ driver.Client[*databasev1alpha1.Database] = (*sqlClient)(nil)

type sqlRequest = driver.Request[*databasev1alpha1.Database]

// target validates a request and returns what it asks of Cloud SQL.
func (c *sqlClient) target(req sqlRequest) (sqlTarget, error) {
	return sqlTargetFor(req.Object, req.ExternalName, req.Region, c.opts)
}

// getInstance reads an instance; it returns nil, nil when there is none.
func (c *sqlClient) getInstance(ctx context.Context, name string) (*sqladmin.DatabaseInstance, error) {
	in, err := c.svc.Instances.Get(c.project, name).Context(ctx).Do()
	switch {
	case sqlIsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, sqlWrapf(err, "get Cloud SQL instance %q", name)
	}
	return in, nil
}

// check rejects an instance the target cannot manage: one of another engine
// or in another region.
func (t sqlTarget) check(in *sqladmin.DatabaseInstance) error {
	if !t.engineMatches(in.DatabaseVersion) {
		return driver.Terminalf("Cloud SQL instance %q runs %s, not %s: the engine of an instance cannot be changed; set spec.engine to match or choose another name",
			t.instance, in.DatabaseVersion, t.engine)
	}
	if in.Region != t.region {
		return driver.Terminalf("Cloud SQL instance %q is in region %q, not %q: the region of an instance cannot be changed; set spec.region to %q or choose another name",
			t.instance, in.Region, t.region, in.Region)
	}
	return nil
}

// Observe reads the instance and, once it runs, the database and the owner
// user: one call while the instance is being created, changed or deleted,
// three once it is RUNNABLE. For a deletion it reads the instance alone
// (observeDeleting).
func (c *sqlClient) Observe(ctx context.Context, req sqlRequest) (driver.Observation, error) {
	if req.Purpose == driver.PurposeDelete {
		return c.observeDeleting(ctx, req)
	}
	t, err := c.target(req)
	if err != nil {
		return driver.Observation{}, err
	}
	in, err := c.getInstance(ctx, t.instance)
	if err != nil {
		return driver.Observation{}, err
	}
	if in == nil {
		req.Object.Status.AtProvider = databasev1alpha1.DatabaseObservation{}
		return driver.Observation{}, nil
	}
	if err := t.check(in); err != nil {
		return driver.Observation{}, err
	}
	host := sqlHost(in)
	at := databasev1alpha1.DatabaseObservation{EngineVersion: sqlEngineVersion(in.DatabaseVersion), Host: host, State: in.State}
	if host != "" {
		at.Port = t.port()
	}
	obs := driver.Observation{Exists: true, State: in.State, Owner: sqlOwnerMark(in)}
	if in.State != sqlStateRunnable {
		// Being created, changed or deleted, or stopped: nothing can change
		// until its operation is done, and its databases and users cannot
		// be read. Drift, ownership included, is reported once it runs.
		req.Object.Status.AtProvider = at
		return obs, nil
	}

	obs.Drift = append(t.drift(in), driver.OwnershipDrift(req.Owner, obs.Owner)...)
	dbExists, err := c.databaseExists(ctx, t)
	if err != nil {
		return driver.Observation{}, err
	}
	ownerExists, err := c.ownerExists(ctx, t)
	if err != nil {
		return driver.Observation{}, err
	}
	if dbExists {
		at.Name = t.database
	} else {
		obs.Drift = append(obs.Drift, sqlDriftMissing(sqlFieldDatabaseName, t.database))
	}
	if ownerExists {
		at.Owner = t.owner
	} else {
		obs.Drift = append(obs.Drift, sqlDriftMissing(sqlFieldOwner, t.owner))
	}
	req.Object.Status.AtProvider = at
	obs.Available = dbExists && ownerExists && host != ""
	// The owner's password cannot be read back from Cloud SQL: it is set
	// when the driver creates the user, and never reported as drift.
	if password := string(req.Connection[driver.ConnectionPassword]); obs.Available && password != "" {
		obs.Connection = t.connection(host, password)
	}
	return obs, nil
}

// observeDeleting reports only whether the instance still exists, so that a
// spec made invalid after creation cannot hold up the deletion.
func (c *sqlClient) observeDeleting(ctx context.Context, req sqlRequest) (driver.Observation, error) {
	name, ok := sqlInstanceName(req.ExternalName)
	if !ok {
		return driver.Observation{}, nil // no instance can have this name
	}
	in, err := c.getInstance(ctx, name)
	if err != nil || in == nil {
		return driver.Observation{}, err
	}
	req.Object.Status.AtProvider.State = in.State
	return driver.Observation{Exists: true, State: in.State, Owner: sqlOwnerMark(in)}, nil
}

// sqlOwnerMark reads the owner mark of an instance from its userLabels.
func sqlOwnerMark(in *sqladmin.DatabaseInstance) driver.OwnerMark {
	if in.Settings == nil {
		return driver.OwnerMark{}
	}
	return driver.MarkFromLabels(in.Settings.UserLabels)
}

func sqlDriftMissing(field, desired string) stratusv1alpha1.DriftedField {
	return stratusv1alpha1.DriftedField{Field: field, Desired: desired, Observed: sqlMissing}
}

// databaseExists reports whether the target's database exists.
func (c *sqlClient) databaseExists(ctx context.Context, t sqlTarget) (bool, error) {
	_, err := c.svc.Databases.Get(c.project, t.instance, t.database).Context(ctx).Do()
	switch {
	case err == nil:
		return true, nil
	case sqlIsNotFound(err):
		return false, nil
	}
	return false, sqlWrapf(err, "get database %q of Cloud SQL instance %q", t.database, t.instance)
}

// ownerExists reports whether the target's owner user exists.
func (c *sqlClient) ownerExists(ctx context.Context, t sqlTarget) (bool, error) {
	users, err := c.svc.Users.List(c.project, t.instance).Context(ctx).Do()
	if err != nil {
		return false, sqlWrapf(err, "list users of Cloud SQL instance %q", t.instance)
	}
	for _, u := range users.Items {
		if u.Name == t.owner && u.Host == t.userHost() {
			return true, nil
		}
	}
	return false, nil
}

// Create starts creating the instance, labelled with req.Owner's mark in
// settings.userLabels, and returns: the database and owner are created by
// Update once the instance runs. An instance of the same name that already
// exists is left as it is, whoever owns it, and is not an error: the
// reconciler observes it and checks its owner mark before any write.
func (c *sqlClient) Create(ctx context.Context, req sqlRequest) (driver.CreateResult, error) {
	t, err := c.target(req)
	if err != nil {
		return driver.CreateResult{}, err
	}
	if len(req.Connection[driver.ConnectionPassword]) == 0 {
		return driver.CreateResult{}, fmt.Errorf("cannot create Cloud SQL instance %q: %w", t.instance, sqlErrNoPassword)
	}
	_, err = c.svc.Instances.Insert(c.project, t.newInstance(req.Owner)).Context(ctx).Do()
	switch {
	case err == nil:
		log.FromContext(ctx).V(1).Info("Started creating the Cloud SQL instance", "instance", t.instance)
		return driver.CreateResult{}, nil
	case !sqlIsConflict(err, sqlReasonInstanceAlreadyExists):
		return driver.CreateResult{}, sqlWrapf(err, "create Cloud SQL instance %q", t.instance)
	}
	// Created by an earlier call, or a name Cloud SQL still keeps: it does
	// not reuse the name of a deleted instance for a week.
	in, gerr := c.getInstance(ctx, t.instance)
	switch {
	case gerr != nil:
		return driver.CreateResult{}, gerr
	case in == nil:
		return driver.CreateResult{}, driver.Terminalf("cannot create Cloud SQL instance %q: the name belongs to an instance deleted less than a week ago, and Cloud SQL does not reuse names for a week: set spec.databaseName or the external-name annotation to another name", t.instance)
	}
	return driver.CreateResult{}, nil
}

// Update brings a RUNNABLE instance in line with the spec, one step at a
// time: it patches the drifted settings (and writes req.Owner's mark when
// the instance lacks it), then creates the database, then
// the owner with the password of the connection Secret. A step whose
// operation is not done at once ends the call; the next reconcile goes on.
// While another operation runs on the instance, Update fails with a plain,
// retried error.
func (c *sqlClient) Update(ctx context.Context, req sqlRequest) (driver.UpdateResult, error) {
	t, err := c.target(req)
	if err != nil {
		return driver.UpdateResult{}, err
	}
	in, err := c.getInstance(ctx, t.instance)
	switch {
	case err != nil:
		return driver.UpdateResult{}, err
	case in == nil:
		return driver.UpdateResult{}, fmt.Errorf("cannot update Cloud SQL instance %q: it does not exist", t.instance)
	}
	if err := t.check(in); err != nil {
		return driver.UpdateResult{}, err
	}
	if in.State != sqlStateRunnable {
		return driver.UpdateResult{}, fmt.Errorf("cannot update Cloud SQL instance %q while it is %s: retrying once its operation is done", t.instance, in.State)
	}
	logger := log.FromContext(ctx).WithValues("instance", t.instance)

	if p := t.patch(in, req.Owner); p != nil {
		op, err := c.svc.Instances.Patch(c.project, t.instance, p).Context(ctx).Do()
		if err != nil {
			return driver.UpdateResult{}, sqlWrapf(err, "update Cloud SQL instance %q", t.instance)
		}
		if op.Status != sqlOperationDone {
			logger.V(1).Info("Started updating the Cloud SQL instance", "operation", op.Name)
			return driver.UpdateResult{}, nil
		}
	}

	dbExists, err := c.databaseExists(ctx, t)
	if err != nil {
		return driver.UpdateResult{}, err
	}
	if !dbExists {
		op, err := c.svc.Databases.Insert(c.project, t.instance, &sqladmin.Database{Name: t.database}).Context(ctx).Do()
		switch {
		case sqlIsConflict(err, sqlReasonOperationInProgress):
			return driver.UpdateResult{}, sqlWrapf(err, "create database %q in Cloud SQL instance %q", t.database, t.instance)
		case sqlIsConflict(err):
			// Created since it was read.
		case err != nil:
			return driver.UpdateResult{}, sqlWrapf(err, "create database %q in Cloud SQL instance %q", t.database, t.instance)
		case op.Status != sqlOperationDone:
			logger.V(1).Info("Started creating the database", "database", t.database, "operation", op.Name)
			return driver.UpdateResult{}, nil
		}
	}

	ownerExists, err := c.ownerExists(ctx, t)
	if err != nil || ownerExists {
		return driver.UpdateResult{}, err
	}
	// Cloud SQL cannot tell whether a user's password is the one in the
	// connection Secret, so the driver sets it only when it creates the user.
	password := string(req.Connection[driver.ConnectionPassword])
	if password == "" {
		return driver.UpdateResult{}, fmt.Errorf("cannot create user %q in Cloud SQL instance %q: %w", t.owner, t.instance, sqlErrNoPassword)
	}
	user := &sqladmin.User{Name: t.owner, Host: t.userHost(), Password: password}
	op, err := c.svc.Users.Insert(c.project, t.instance, user).Context(ctx).Do()
	switch {
	case sqlIsConflict(err, sqlReasonOperationInProgress):
		return driver.UpdateResult{}, sqlWrapf(err, "create user %q in Cloud SQL instance %q", t.owner, t.instance)
	case sqlIsConflict(err):
		// Created since it was read, by an earlier call of this driver:
		// make sure it has the password of the connection Secret.
		call := c.svc.Users.Update(c.project, t.instance, &sqladmin.User{Password: password}).Name(t.owner)
		if h := t.userHost(); h != "" {
			call = call.Host(h)
		}
		if op, err = call.Context(ctx).Do(); err != nil {
			return driver.UpdateResult{}, sqlWrapf(err, "set the password of user %q in Cloud SQL instance %q", t.owner, t.instance)
		}
	case err != nil:
		return driver.UpdateResult{}, sqlWrapf(err, "create user %q in Cloud SQL instance %q", t.owner, t.instance)
	}
	logger.V(1).Info("Started creating the owner", "user", t.owner, "operation", op.Name)
	return driver.UpdateResult{}, nil
}

// Delete deletes the instance, with its databases and users, unless
// deletion protection blocks it: spec.deletionProtection, or Cloud SQL's own
// deletion protection, which Delete never turns off. A blocked deletion
// changes nothing in the cloud and says how to proceed. Cloud SQL deletes in
// the background: the result is Gone only when there is no instance.
func (c *sqlClient) Delete(ctx context.Context, req sqlRequest) (driver.DeleteResult, error) {
	gone := driver.DeleteResult{Gone: true}
	name, ok := sqlInstanceName(req.ExternalName)
	if !ok {
		return gone, nil // no instance can have this name
	}
	if req.Object.Spec.DeletionProtection {
		return driver.DeleteResult{}, driver.Blockedf("Cloud SQL instance %q is kept because spec.deletionProtection is true: set it to false to delete the instance and its data, or set spec.deletionPolicy to Orphan to keep the instance and delete only this object", name)
	}
	in, err := c.getInstance(ctx, name)
	switch {
	case err != nil:
		return driver.DeleteResult{}, err
	case in == nil:
		return gone, nil
	case in.State == sqlStatePendingDelete:
		return driver.DeleteResult{}, nil
	}
	if in.Settings != nil && in.Settings.DeletionProtectionEnabled {
		return driver.DeleteResult{}, driver.Blockedf("Cloud SQL instance %q has deletion protection turned on in Cloud SQL although spec.deletionProtection is false: turn it off in Cloud SQL (gcloud sql instances patch %s --no-deletion-protection) to let the deletion proceed, or set spec.deletionPolicy to Orphan to keep the instance", name, name)
	}
	_, err = c.svc.Instances.Delete(c.project, name).Context(ctx).Do()
	switch {
	case err == nil:
		// Cloud SQL deletes in the background: observed until it is gone.
		return driver.DeleteResult{}, nil
	case sqlIsNotFound(err):
		return gone, nil
	}
	return driver.DeleteResult{}, sqlWrapf(err, "delete Cloud SQL instance %q", name)
}
