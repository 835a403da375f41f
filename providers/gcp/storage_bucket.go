package gcp

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// The keys of a bucket's connection details. None of them is secret.
const (
	ConnectionBucket   = "bucket"
	ConnectionRegion   = "region"
	ConnectionEndpoint = "endpoint"
)

// DefaultLocation is the location of a bucket when neither the resource nor
// the provider configuration names a region: the US multi-region, as for
// Cloud Storage itself.
const DefaultLocation = "US"

// DefaultMaxAttempts is how many times the client library tries a call that
// is safe to retry, the first attempt included, before it returns the error
// to the reconciler, which then retries with its own backoff.
const DefaultMaxAttempts = 3

// publicEndpoint is the Cloud Storage endpoint without an override.
const publicEndpoint = "https://storage.googleapis.com"

// retryBackoff is the client library's backoff between attempts: short,
// since the reconciler has its own.
var retryBackoff = gax.Backoff{Initial: 200 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2}

// listPageSize is how many object generations one listing of a bucket being
// emptied returns.
const listPageSize = 1000

// maxEmptyRounds bounds the listings one Delete makes to empty a bucket, so
// that emptying a huge bucket does not hold a reconcile for long: the next
// Delete carries on where this one stopped.
const maxEmptyRounds = 10

// deleteWorkers is how many object deletions run at once.
const deleteWorkers = 8

// options configure the drivers of this package.
type options struct {
	maxAttempts int
}

// Option configures a driver.
type Option func(*options)

// WithMaxAttempts sets how many times the client library tries a call that
// is safe to retry, the first attempt included; 1 disables its retries.
// Values below 1 are ignored. The default is DefaultMaxAttempts.
func WithMaxAttempts(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.maxAttempts = n
		}
	}
}

func newOptions(opts []Option) options {
	o := options{maxAttempts: DefaultMaxAttempts}
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// NewBucketDriver returns the Cloud Storage driver for Buckets.
func NewBucketDriver(opts ...Option) driver.Registration[*storagev1alpha1.Bucket] {
	return driver.Registration[*storagev1alpha1.Bucket]{Driver: &bucketDriver{opts: newOptions(opts)}}
}

type bucketDriver struct {
	opts options
}

// Connect returns a Cloud Storage client for the provider configuration. It
// makes no network call: the credentials are exchanged for a token at the
// first request. The client holds connections; the reconciler closes it.
func (d *bucketDriver) Connect(ctx context.Context, cfg driver.Config) (driver.Client[*storagev1alpha1.Bucket], error) {
	conn, err := connect(ctx, cfg, "Cloud Storage")
	if err != nil {
		return nil, err
	}
	if cfg.Spec.Credentials.Source == stratusv1alpha1.CredentialsSourceSecret {
		// The client library parses the private key only at the first
		// request, and its error then is not recognizably a credentials one.
		if err := checkPrivateKey(cfg.Credentials[KeyCredentialsJSON]); err != nil {
			return nil, driver.BadCredentials(fmt.Errorf("connect to Cloud Storage: %w", err))
		}
	}
	endpoint := strings.TrimSuffix(cfg.Spec.Endpoint, "/")
	// Client metrics would be exported to Cloud Monitoring in the
	// credentials' project: not the operator's business.
	opts := append(slices.Clip(conn.options), storage.WithDisabledClientMetrics())
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint+"/storage/v1/"))
	}
	// What can fail in either is building credentials: a key that cannot be
	// used, or no Application Default Credentials.
	opts, err = withCallMetrics(ctx, serviceStorage, opts, storageDefaults()...)
	if err != nil {
		return nil, driver.BadCredentials(fmt.Errorf("connect to Cloud Storage: %w", err))
	}
	gcs, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, driver.BadCredentials(fmt.Errorf("connect to Cloud Storage: %w", err))
	}
	gcs.SetRetry(storage.WithMaxAttempts(d.opts.maxAttempts), storage.WithBackoff(retryBackoff))
	return &bucketClient{
		gcs:         gcs,
		project:     conn.project,
		region:      cfg.Spec.Region,
		endpoint:    endpoint,
		pageSize:    listPageSize,
		emptyRounds: maxEmptyRounds,
	}, nil
}

// checkPrivateKey fails when the private_key of a service-account key file
// is not a PEM or DER private key. Its error never holds the key.
func checkPrivateKey(keyFile []byte) error {
	var sa struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(keyFile, &sa); err != nil || sa.PrivateKey == "" {
		return fmt.Errorf("the service-account key in %s has no private_key", KeyCredentialsJSON)
	}
	der := []byte(sa.PrivateKey)
	if block, _ := pem.Decode(der); block != nil {
		der = block.Bytes
	}
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return nil
	}
	if _, err := x509.ParseECPrivateKey(der); err == nil {
		return nil
	}
	return fmt.Errorf("the private_key of the service-account key in %s is not a PKCS #8, PKCS #1 or EC private key", KeyCredentialsJSON)
}

// bucketClient manages buckets with one account's credentials.
type bucketClient struct {
	gcs *storage.Client
	// project is the project buckets are created in; empty when the
	// credentials name none.
	project string
	// region is the configuration's region, for requests that name none.
	region string
	// endpoint is the configuration's endpoint, empty for Google.
	endpoint string
	// pageSize and emptyRounds bound the emptying of a bucket: listPageSize
	// and maxEmptyRounds but in tests.
	pageSize, emptyRounds int
}

// Close releases the client's connections.
func (c *bucketClient) Close() error {
	return c.gcs.Close()
}

type bucketRequest = driver.Request[*storagev1alpha1.Bucket]

// target returns the name and the upper-case location of the bucket a
// request is about.
func (c *bucketClient) target(req bucketRequest) (name, location string, err error) {
	name = req.ExternalName
	if name == "" {
		name = req.Object.Spec.BucketName
	}
	if name == "" {
		return "", "", driver.Terminalf("the bucket has no name: set spec.bucketName or the %s annotation",
			stratusv1alpha1.AnnotationExternalName)
	}
	location = req.Region
	if location == "" {
		location = c.region
	}
	if location == "" {
		location = DefaultLocation
	}
	return name, strings.ToUpper(location), nil
}

// Observe reads the bucket, compares it with the spec and records it in
// status.atProvider: one read, whatever the request's purpose.
func (c *bucketClient) Observe(ctx context.Context, req bucketRequest) (driver.Observation, error) {
	name, location, err := c.target(req)
	if err != nil {
		return driver.Observation{}, err
	}
	attrs, err := c.gcs.Bucket(name).Attrs(ctx)
	switch {
	case errors.Is(err, storage.ErrBucketNotExist):
		req.Object.Status.AtProvider = storagev1alpha1.BucketObservation{}
		return driver.Observation{}, nil
	case err != nil:
		return driver.Observation{}, wrapf(err, "get bucket %q", name)
	}
	if !sameLocation(attrs.Location, location) {
		return driver.Observation{}, locationMismatch(name, attrs.Location, location)
	}
	req.Object.Status.AtProvider = c.atProvider(name, attrs)
	mark := driver.MarkFromLabels(attrs.Labels)
	return driver.Observation{
		Exists:     true,
		Available:  true,
		Drift:      append(drift(req.Object.Spec, attrs), driver.OwnershipDrift(req.Owner, mark)...),
		Connection: c.connection(name, attrs.Location),
		Owner:      mark,
	}, nil
}

// atProvider describes what was observed of the bucket. Its labels leave
// out the owner mark's, which are the operator's.
func (c *bucketClient) atProvider(name string, attrs *storage.BucketAttrs) storagev1alpha1.BucketObservation {
	algorithm, keyID := observedEncryption(attrs)
	o := storagev1alpha1.BucketObservation{
		Name:                name,
		Region:              attrs.Location,
		Versioning:          string(observedVersioning(attrs)),
		Encryption:          algorithm,
		EncryptionKeyID:     keyID,
		PublicAccessBlocked: new(publicAccessBlocked(attrs)),
		LifecycleRules:      int32(len(attrs.Lifecycle.Rules)),
		URL:                 c.bucketURL(name),
	}
	if labels := driver.WithoutOwnerKeys(attrs.Labels); len(labels) > 0 {
		o.Labels = labels
	}
	return o
}

// connection returns the bucket's connection details.
func (c *bucketClient) connection(name, location string) driver.ConnectionDetails {
	return driver.ConnectionDetails{
		ConnectionBucket:   []byte(name),
		ConnectionRegion:   []byte(location),
		ConnectionEndpoint: []byte(c.serviceEndpoint()),
	}
}

// serviceEndpoint returns the Cloud Storage endpoint clients of the bucket
// should use.
func (c *bucketClient) serviceEndpoint() string {
	if c.endpoint != "" {
		return c.endpoint
	}
	return publicEndpoint
}

// bucketURL returns the URL of the bucket in the XML API, path-style.
func (c *bucketClient) bucketURL(name string) string {
	return c.serviceEndpoint() + "/" + name
}

// sameLocation reports whether a bucket's location is the desired one;
// Cloud Storage reports locations upper-case.
func sameLocation(actual, desired string) bool {
	return strings.EqualFold(actual, desired)
}

// locationMismatch is the error of a bucket found in another location than
// the spec's.
func locationMismatch(name, actual, desired string) error {
	return driver.Terminalf("bucket %q is in location %q, not %q: the location of a bucket cannot be changed; set spec.region to %q or choose another spec.bucketName",
		name, actual, desired, strings.ToLower(actual))
}

// Create creates the bucket with every setting of the spec and, in the same
// call, the labels of req.Owner's mark. A bucket of the same name that this
// account can read is left as it is, whoever owns it, and is not an error:
// the reconciler observes it and checks its owner mark before any write.
func (c *bucketClient) Create(ctx context.Context, req bucketRequest) (driver.CreateResult, error) {
	name, location, err := c.target(req)
	if err != nil {
		return driver.CreateResult{}, err
	}
	spec := req.Object.Spec
	if err := validateSpec(spec); err != nil {
		return driver.CreateResult{}, err
	}
	if c.project == "" {
		return driver.CreateResult{}, driver.Terminalf("cannot create bucket %q: no Google Cloud project to create it in: use credentials from a Secret whose %s is a service-account key with project_id set",
			name, KeyCredentialsJSON)
	}
	bucket := c.gcs.Bucket(name)
	err = bucket.Create(ctx, c.project, desiredAttrs(spec, req.Owner, location))
	if err == nil {
		return driver.CreateResult{Connection: c.connection(name, location)}, nil
	}
	if httpStatus(err) != http.StatusConflict {
		return driver.CreateResult{}, wrapf(err, "create bucket %q in location %q", name, location)
	}

	// The name is in use: by this account, if it can read the bucket. It
	// is only read: its labels, owner mark included, stay as they are.
	attrs, err := bucket.Attrs(ctx)
	switch {
	case err == nil:
	case httpStatus(err) == http.StatusForbidden:
		return driver.CreateResult{}, driver.Terminalf("bucket name %q is taken by another project: bucket names are global; choose another spec.bucketName", name)
	case errors.Is(err, storage.ErrBucketNotExist):
		return driver.CreateResult{}, fmt.Errorf("create bucket %q: the name is in use, but no bucket of that name can be read; it may be being deleted", name)
	default:
		return driver.CreateResult{}, wrapf(err, "get bucket %q", name)
	}
	if !sameLocation(attrs.Location, location) {
		return driver.CreateResult{}, locationMismatch(name, attrs.Location, location)
	}
	return driver.CreateResult{Connection: c.connection(name, attrs.Location)}, nil
}

// Update writes every setting of the spec to the bucket in one patch, with
// the labels of req.Owner's mark; it never deletes a label of an owner mark.
func (c *bucketClient) Update(ctx context.Context, req bucketRequest) (driver.UpdateResult, error) {
	name, location, err := c.target(req)
	if err != nil {
		return driver.UpdateResult{}, err
	}
	spec := req.Object.Spec
	if err := validateSpec(spec); err != nil {
		return driver.UpdateResult{}, err
	}
	bucket := c.gcs.Bucket(name)
	attrs, err := bucket.Attrs(ctx)
	switch {
	case errors.Is(err, storage.ErrBucketNotExist):
		return driver.UpdateResult{}, fmt.Errorf("update bucket %q: it does not exist", name)
	case err != nil:
		return driver.UpdateResult{}, wrapf(err, "get bucket %q", name)
	}
	if !sameLocation(attrs.Location, location) {
		return driver.UpdateResult{}, locationMismatch(name, attrs.Location, location)
	}
	if _, err := bucket.Update(ctx, desiredUpdate(spec, req.Owner, attrs.Labels)); err != nil {
		return driver.UpdateResult{}, wrapf(err, "update bucket %q", name)
	}
	return driver.UpdateResult{Connection: c.connection(name, attrs.Location)}, nil
}

// Delete deletes the bucket. Unless spec.forceDestroy is set, a bucket that
// holds any object generation, live or noncurrent, is left alone and the
// deletion is blocked; with it, every generation is deleted first. Cloud
// Storage deletes a bucket at once: a Delete that succeeds leaves it gone.
func (c *bucketClient) Delete(ctx context.Context, req bucketRequest) (driver.DeleteResult, error) {
	gone := driver.DeleteResult{Gone: true}
	name, _, err := c.target(req)
	if err != nil {
		return driver.DeleteResult{}, err
	}
	bucket := c.gcs.Bucket(name)
	if req.Object.Spec.ForceDestroy {
		if err := c.emptyBucket(ctx, bucket, name); err != nil {
			if errors.Is(err, storage.ErrBucketNotExist) {
				return gone, nil
			}
			return driver.DeleteResult{}, err
		}
	} else {
		it := bucket.Objects(ctx, &storage.Query{Versions: true})
		it.PageInfo().MaxSize = 1
		_, err := it.Next()
		switch {
		case errors.Is(err, iterator.Done):
		case errors.Is(err, storage.ErrBucketNotExist):
			return gone, nil
		case err != nil:
			return driver.DeleteResult{}, wrapf(err, "list objects of bucket %q", name)
		default:
			return driver.DeleteResult{}, notEmpty(name)
		}
	}

	err = bucket.Delete(ctx)
	switch status := httpStatus(err); {
	case err == nil, status == http.StatusNotFound:
		return gone, nil
	case status == http.StatusConflict, status == http.StatusPreconditionFailed:
		// Cloud Storage answers 409 for a bucket that is not empty; the
		// emulator 412. Either way something was written meanwhile.
		return driver.DeleteResult{}, notEmpty(name)
	}
	return driver.DeleteResult{}, wrapf(err, "delete bucket %q", name)
}

// notEmpty is the error of a deletion blocked by objects in the bucket.
func notEmpty(name string) error {
	return driver.Blockedf("bucket %q still holds objects or noncurrent object versions: empty it, or set spec.forceDestroy to true to delete them with the bucket", name)
}

// emptyBucket deletes every object generation in the bucket, listing at
// most c.pageSize at a time. It gives up, with an error saying that the
// deletion goes on, after c.emptyRounds listings.
func (c *bucketClient) emptyBucket(ctx context.Context, bucket *storage.BucketHandle, name string) error {
	deleted := 0
	for range c.emptyRounds {
		// Each round lists from the start: the previous round deleted what
		// came before.
		q := &storage.Query{Versions: true}
		if err := q.SetAttrSelection([]string{"Name", "Generation"}); err != nil {
			return fmt.Errorf("list objects of bucket %q: %w", name, err)
		}
		var objs []*storage.ObjectAttrs
		if _, err := iterator.NewPager(bucket.Objects(ctx, q), c.pageSize, "").NextPage(&objs); err != nil {
			if errors.Is(err, storage.ErrBucketNotExist) {
				return err
			}
			return wrapf(err, "list objects of bucket %q", name)
		}
		if len(objs) == 0 {
			return nil
		}
		if err := deleteGenerations(ctx, bucket, objs); err != nil {
			return wrapf(err, "delete objects of bucket %q", name)
		}
		deleted += len(objs)
	}
	return fmt.Errorf("empty bucket %q: deleted %d object generations, more remain: the deletion goes on at the next attempt", name, deleted)
}

// deleteGenerations deletes object generations, a few at a time. A
// generation that is already gone is not an error. It returns the first
// error.
func deleteGenerations(ctx context.Context, bucket *storage.BucketHandle, objs []*storage.ObjectAttrs) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *storage.ObjectAttrs)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range min(deleteWorkers, len(objs)) {
		wg.Go(func() {
			for o := range work {
				err := bucket.Object(o.Name).Generation(o.Generation).Delete(ctx)
				if err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
					once.Do(func() {
						firstErr = fmt.Errorf("object %q generation %d: %w", o.Name, o.Generation, err)
						cancel()
					})
				}
			}
		})
	}
	for _, o := range objs {
		if ctx.Err() != nil {
			break
		}
		work <- o
	}
	close(work)
	wg.Wait()
	return firstErr
}

// classify marks err, an error of a Cloud Storage call (possibly wrapped),
// as driver.Throttled, driver.BadCredentials or driver.Terminal according to
// its HTTP status, and returns it unchanged otherwise.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if isTokenError(err) {
		return driver.BadCredentials(err)
	}
	switch httpStatus(err) {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return driver.Throttled(err)
	case http.StatusUnauthorized:
		return driver.BadCredentials(err)
	case http.StatusBadRequest:
		return driver.Terminal(err)
	}
	return err
}

// wrapf wraps err, which must not be nil, with a message saying what could
// not be done, and classifies it.
func wrapf(err error, format string, args ...any) error {
	return classify(fmt.Errorf(format+": %w", append(args, err)...))
}

// httpStatus returns the HTTP status of a Cloud Storage API error, or 0.
func httpStatus(err error) int {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code
	}
	return 0
}

// isTokenError reports whether err is the token endpoint refusing the
// credentials: invalid_grant for a key that was deleted or is not the
// account's, invalid_client, unauthorized_client. Its message holds the
// endpoint's answer, never the key.
func isTokenError(err error) bool {
	refused := func(resp *http.Response) bool {
		return resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500
	}
	var aerr *auth.Error
	if errors.As(err, &aerr) && refused(aerr.Response) {
		return true
	}
	var rerr *oauth2.RetrieveError
	if errors.As(err, &rerr) && refused(rerr.Response) {
		return true
	}
	return strings.Contains(err.Error(), "invalid_grant")
}
