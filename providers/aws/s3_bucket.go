package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

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

// deleteBatchSize is the most keys one DeleteObjects call may delete.
const deleteBatchSize = 1000

// maxDeleteBatches bounds the DeleteObjects calls one Delete makes to empty a
// bucket, so that emptying a huge bucket does not hold a reconcile for long:
// the next Delete carries on where this one stopped.
const maxDeleteBatches = 100

// The S3 error codes the driver acts on.
const (
	codeNoSuchBucket            = "NoSuchBucket"
	codeNotFound                = "NotFound" // HeadBucket's, which has no body
	codeBucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou"
	codeBucketAlreadyExists     = "BucketAlreadyExists"
	codeBucketNotEmpty          = "BucketNotEmpty"
	codeNoEncryption            = "ServerSideEncryptionConfigurationNotFoundError"
	codeNoPublicAccessBlock     = "NoSuchPublicAccessBlockConfiguration"
	codeNoLifecycle             = "NoSuchLifecycleConfiguration"
	codeNoTagSet                = "NoSuchTagSet"
)

// bucketRegionHeader is the header in which S3 names a bucket's region.
const bucketRegionHeader = "X-Amz-Bucket-Region"

// NewBucketDriver returns the S3 driver for Buckets.
func NewBucketDriver(opts ...Option) driver.Registration[*storagev1alpha1.Bucket] {
	return driver.Registration[*storagev1alpha1.Bucket]{Driver: &bucketDriver{opts: newOptions(opts)}}
}

type bucketDriver struct {
	opts options
}

// Connect returns an S3 client for the provider configuration. It makes no
// network call.
func (d *bucketDriver) Connect(ctx context.Context, cfg driver.Config) (driver.Client[*storagev1alpha1.Bucket], error) {
	if p := cfg.Spec.Provider; p != "" && p != stratusv1alpha1.ProviderAWS {
		return nil, driver.Terminalf("connect to S3: the provider configuration is for provider %s, not %s", p, stratusv1alpha1.ProviderAWS)
	}
	ac, err := awsConfig(ctx, cfg, d.opts.httpClient, config.WithRetryMaxAttempts(d.opts.maxAttempts))
	if err != nil {
		return nil, fmt.Errorf("connect to S3: %w", err)
	}
	endpoint := strings.TrimSuffix(cfg.Spec.Endpoint, "/")
	client := s3.NewFromConfig(ac, func(o *s3.Options) {
		if endpoint != "" {
			// Set again here: the environment's AWS_ENDPOINT_URL_S3 would
			// otherwise take precedence over the configuration's endpoint.
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})
	return &bucketClient{s3: client, region: ac.Region, endpoint: endpoint}, nil
}

// bucketClient manages buckets with one account's credentials.
type bucketClient struct {
	s3 *s3.Client
	// region is the configuration's region, for requests that name none.
	region string
	// endpoint is the configuration's endpoint, empty for AWS.
	endpoint string
}

type bucketRequest = driver.Request[*storagev1alpha1.Bucket]

// target returns the name and region of the bucket a request is about.
func (c *bucketClient) target(req bucketRequest) (name, region string, err error) {
	name = req.ExternalName
	if name == "" {
		name = req.Object.Spec.BucketName
	}
	if name == "" {
		return "", "", driver.Terminalf("the bucket has no name: set spec.bucketName or the %s annotation",
			stratusv1alpha1.AnnotationExternalName)
	}
	region = req.Region
	if region == "" {
		region = c.region
	}
	return name, region, nil
}

// in returns the call option that sends a request to a region.
func in(region string) func(*s3.Options) {
	return func(o *s3.Options) { o.Region = region }
}

// Observe reads the bucket and its settings, compares them with the spec and
// records them in status.atProvider. For a deletion it reads only whether
// the bucket exists and its tags (observeDeleting).
//
// A bucket the request says is Known (the reconciler recorded it) is read
// right away, in the request's region: the first read's NoSuchBucket says
// that it is gone, and a redirect that it is elsewhere, which spares a
// HeadBucket on every poll. Any other is looked up first. The driver keeps
// no memory of its own: what it was told is in the request.
func (c *bucketClient) Observe(ctx context.Context, req bucketRequest) (driver.Observation, error) {
	name, region, err := c.target(req)
	if err != nil {
		return driver.Observation{}, err
	}
	if req.Purpose == driver.PurposeDelete {
		return c.observeDeleting(ctx, req, name, region)
	}
	regionKnown := req.Known
	if !regionKnown {
		exists, known, err := c.headBucket(ctx, name, region)
		if err != nil {
			return driver.Observation{}, err
		}
		if !exists {
			req.Object.Status.AtProvider = storagev1alpha1.BucketObservation{}
			return driver.Observation{}, nil
		}
		regionKnown = known
	}
	st, err := c.readBucket(ctx, name, region, regionKnown)
	if isNoSuchBucket(err) {
		req.Object.Status.AtProvider = storagev1alpha1.BucketObservation{}
		return driver.Observation{}, nil
	}
	if r := responseHeader(err, bucketRegionHeader); r != "" && r != region {
		return driver.Observation{}, regionMismatch(name, r, region)
	}
	if err != nil {
		return driver.Observation{}, err
	}

	return c.observation(req, name, region, st), nil
}

// observation records st, what was read of an existing bucket, in
// status.atProvider and returns the observation it makes: drift from the
// spec, then (when the tags could be read) from the request's owner mark.
func (c *bucketClient) observation(req bucketRequest, name, region string, st bucketState) driver.Observation {
	req.Object.Status.AtProvider = c.atProvider(name, st)
	obs := driver.Observation{
		Exists:     true,
		Available:  true,
		Drift:      drift(req.Object.Spec, st),
		Connection: c.connection(name, region),
	}
	if !st.unsupported[featureLabels] {
		obs.Owner = st.ownerMark()
		obs.Drift = append(obs.Drift, driver.OwnershipDrift(req.Owner, obs.Owner)...)
	}
	for _, f := range []string{featureVersioning, featureEncryption, featurePublicAccess, featureLifecycle, featureLabels} {
		if st.unsupported[f] {
			obs.Unsupported = append(obs.Unsupported, f)
		}
	}
	return obs
}

// observeDeleting observes a bucket whose Bucket is being deleted: whether
// it exists and, for the reconciler to check before it deletes anything,
// whose it is. That is a HEAD and the tags; the other settings do not
// matter any more.
func (c *bucketClient) observeDeleting(ctx context.Context, req bucketRequest, name, region string) (driver.Observation, error) {
	exists, _, err := c.headBucket(ctx, name, region)
	if err != nil || !exists {
		return driver.Observation{}, err
	}
	tags, err := c.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)}, in(region))
	obs := driver.Observation{Exists: true, Available: true}
	switch {
	case err == nil, hasCode(err, codeNoTagSet):
		if err == nil {
			obs.Owner = driver.MarkFromTags(tagMap(tags.TagSet))
		}
		obs.Drift = driver.OwnershipDrift(req.Owner, obs.Owner)
	case isNoSuchBucket(err):
		return driver.Observation{}, nil
	case isNotImplemented(err):
		// The endpoint has no tags, hence no mark to read: nothing to say
		// about the owner.
	default:
		return driver.Observation{}, wrapf(err, "get tags of bucket %q", name)
	}
	return obs, nil
}

// headBucket reports whether the bucket exists and can be reached in region,
// and whether the answer confirmed the region (x-amz-bucket-region), which
// spares a GetBucketLocation call.
func (c *bucketClient) headBucket(ctx context.Context, name, region string) (exists, regionKnown bool, err error) {
	out, err := c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)}, in(region))
	if err == nil {
		r := aws.ToString(out.BucketRegion)
		if r != "" && r != region {
			return false, false, regionMismatch(name, r, region)
		}
		return true, r != "", nil
	}
	if r := responseHeader(err, bucketRegionHeader); r != "" && r != region {
		return false, false, regionMismatch(name, r, region)
	}
	if status := httpStatus(err); status == http.StatusNotFound || status == http.StatusForbidden {
		// A HEAD response has no body, hence no error code: ask again with a
		// GET to learn whether the bucket is missing or the credentials or
		// permissions are wrong. versitygw, for one, answers a HEAD signed
		// with an unknown access key with 404.
		_, gerr := c.s3.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(name)}, in(region))
		switch {
		case gerr == nil:
			if status == http.StatusNotFound {
				return true, false, nil
			}
		case isNoSuchBucket(gerr), status == http.StatusNotFound && isNotImplemented(gerr):
			return false, false, nil
		default:
			err = gerr
		}
	}
	return false, false, wrapf(err, "head bucket %q", name)
}

// readBucket reads the bucket's region, unless regionKnown, and settings. A
// setting the endpoint does not implement is marked unsupported.
func (c *bucketClient) readBucket(ctx context.Context, name, region string, regionKnown bool) (bucketState, error) {
	st := bucketState{region: region, unsupported: map[string]bool{}}
	bucket := aws.String(name)

	var (
		loc *s3.GetBucketLocationOutput
		err error
	)
	if !regionKnown {
		loc, err = c.s3.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: bucket}, in(region))
	}
	switch {
	case regionKnown:
	case err == nil:
		st.region = locationRegion(loc.LocationConstraint)
		if st.region != region {
			return st, regionMismatch(name, st.region, region)
		}
	case isNotImplemented(err):
	default:
		return st, wrapf(err, "get location of bucket %q", name)
	}

	ver, err := c.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: bucket}, in(region))
	if found, err := st.setting(featureVersioning, err); err != nil {
		return st, wrapf(err, "get versioning of bucket %q", name)
	} else if found {
		st.versioning = string(ver.Status)
	}

	enc, err := c.s3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: bucket}, in(region))
	if found, err := st.setting(featureEncryption, err, codeNoEncryption); err != nil {
		return st, wrapf(err, "get encryption of bucket %q", name)
	} else if found && enc.ServerSideEncryptionConfiguration != nil {
		st.encryption = enc.ServerSideEncryptionConfiguration.Rules
	}

	pab, err := c.s3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: bucket}, in(region))
	if found, err := st.setting(featurePublicAccess, err, codeNoPublicAccessBlock); err != nil {
		return st, wrapf(err, "get public access block of bucket %q", name)
	} else if found {
		st.publicAccess = pab.PublicAccessBlockConfiguration
	}

	lc, err := c.s3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: bucket}, in(region))
	if found, err := st.setting(featureLifecycle, err, codeNoLifecycle); err != nil {
		return st, wrapf(err, "get lifecycle of bucket %q", name)
	} else if found {
		st.lifecycle = lc.Rules
	}

	tags, err := c.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: bucket}, in(region))
	if found, err := st.setting(featureLabels, err, codeNoTagSet); err != nil {
		return st, wrapf(err, "get tags of bucket %q", name)
	} else if found {
		st.tags = tags.TagSet
	}
	return st, nil
}

// setting interprets the error of the call that read a feature's setting:
// found is true when the call succeeded; an error with one of the
// notConfigured codes means the setting is not configured, and 501 that the
// endpoint does not implement the feature. Other errors are returned.
func (st *bucketState) setting(feature string, err error, notConfigured ...string) (found bool, _ error) {
	switch {
	case err == nil:
		return true, nil
	case hasCode(err, notConfigured...):
		return false, nil
	case isNotImplemented(err):
		st.unsupported[feature] = true
		return false, nil
	}
	return false, err
}

// atProvider describes what was observed of the bucket.
func (c *bucketClient) atProvider(name string, st bucketState) storagev1alpha1.BucketObservation {
	algorithm, keyID := encryptionAlgorithm(st.encryption)
	o := storagev1alpha1.BucketObservation{
		Name:            name,
		Region:          st.region,
		Versioning:      st.versioning,
		Encryption:      algorithm,
		EncryptionKeyID: keyID,
		LifecycleRules:  int32(len(st.lifecycle)),
		Labels:          st.labels(),
		URL:             c.bucketURL(name, st.region),
	}
	if !st.unsupported[featurePublicAccess] {
		o.PublicAccessBlocked = aws.Bool(publicAccessBlocked(st.publicAccess))
	}
	return o
}

// connection returns the bucket's connection details.
func (c *bucketClient) connection(name, region string) driver.ConnectionDetails {
	return driver.ConnectionDetails{
		ConnectionBucket:   []byte(name),
		ConnectionRegion:   []byte(region),
		ConnectionEndpoint: []byte(c.serviceEndpoint(region)),
	}
}

// serviceEndpoint returns the S3 endpoint clients of the bucket should use.
func (c *bucketClient) serviceEndpoint(region string) string {
	if c.endpoint != "" {
		return c.endpoint
	}
	return "https://s3." + region + "." + awsDomain(region)
}

// bucketURL returns the URL of the bucket: path-style under a configured
// endpoint, virtual-hosted-style on AWS.
func (c *bucketClient) bucketURL(name, region string) string {
	if c.endpoint != "" {
		return c.endpoint + "/" + name
	}
	return "https://" + name + ".s3." + region + "." + awsDomain(region)
}

// awsDomain returns the domain of AWS endpoints in a region.
func awsDomain(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// locationRegion returns the region a GetBucketLocation answer names: empty
// means us-east-1, and EU is the old name of eu-west-1.
func locationRegion(c types.BucketLocationConstraint) string {
	switch c {
	case "":
		return "us-east-1"
	case types.BucketLocationConstraintEu:
		return "eu-west-1"
	}
	return string(c)
}

// regionMismatch is the error of a bucket found in another region than the
// spec's.
func regionMismatch(name, actual, desired string) error {
	return driver.Terminalf("bucket %q is in region %q, not %q: the region of a bucket cannot be changed; set spec.region to %q or choose another spec.bucketName",
		name, actual, desired, actual)
}

// responseHeader returns a header of the response that caused err.
func responseHeader(err error, key string) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get(key)
	}
	return ""
}

// Create creates the bucket, marks it with the request's owner and applies
// every setting of the spec. For a bucket the call itself created, whose
// every setting the endpoint accepted, the result's Observed is the
// observation those writes imply, which spares the reads of an Observe:
// such a bucket has exactly the spec's settings and the request's owner
// mark.
//
// The first write to a bucket the call created is its tags, owner mark
// included, so that a crash right after leaves the bucket marked. A bucket
// that already existed (S3's BucketAlreadyOwnedByYou: a create retried after
// a crash, or another Bucket's bucket of the same account) is not changed at
// all and nothing is observed, so that the reconciler observes it and
// checks its owner mark before anything writes to it. In us-east-1 S3
// answers 200 for such a bucket too: one that has tags was not made by the
// call and is treated as existing; one without is treated as created.
func (c *bucketClient) Create(ctx context.Context, req bucketRequest) (driver.CreateResult, error) {
	name, region, err := c.target(req)
	if err != nil {
		return driver.CreateResult{}, err
	}
	input := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if region != "us-east-1" {
		input.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(region),
		}
	}
	_, err = c.s3.CreateBucket(ctx, input, in(region))
	// What Create returns when it cannot vouch for the bucket: it already
	// existed, or the endpoint did not take every setting.
	unobserved := driver.CreateResult{Connection: c.connection(name, region)}
	switch {
	case err == nil:
	case hasCode(err, codeBucketAlreadyOwnedByYou):
		return unobserved, nil
	case hasCode(err, codeBucketAlreadyExists):
		return driver.CreateResult{}, driver.Terminalf("bucket name %q is taken by another account: choose another spec.bucketName", name)
	default:
		return driver.CreateResult{}, wrapf(err, "create bucket %q in region %q", name, region)
	}
	if region == "us-east-1" {
		// S3 answers 200 in us-east-1 to a create of a bucket this account
		// already owns (another object's, made meanwhile): a bucket that
		// has tags was not made by this call, so nothing is written and the
		// reconciler reads its owner first.
		tags, err := c.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)}, in(region))
		switch {
		case err == nil && len(tags.TagSet) > 0:
			return unobserved, nil
		case unlessUnsupported(err, codeNoTagSet) != nil:
			return driver.CreateResult{}, wrapf(err, "read tags of bucket %q after creating it", name)
		}
	}
	// A bucket this call created has no versioning history, lifecycle or
	// tags to remove.
	spec := req.Object.Spec
	tagsApplied, err := c.applyTags(ctx, spec, req.Owner, name, region, true)
	if err != nil {
		return driver.CreateResult{}, err
	}
	allApplied, err := c.applySettings(ctx, spec, name, region, true)
	if err != nil {
		return driver.CreateResult{}, err
	}
	if !tagsApplied || !allApplied {
		return unobserved, nil
	}
	obs := c.observation(req, name, region, createdState(spec, req.Owner, region))
	return driver.CreateResult{Connection: obs.Connection, Observed: &obs}, nil
}

// Update writes the tags, the request's owner mark included, then applies
// every setting of the spec to the bucket. The tags are written on every
// Update: that is how the mark of a bucket Observe reported ownership drift
// for is stamped.
func (c *bucketClient) Update(ctx context.Context, req bucketRequest) (driver.UpdateResult, error) {
	name, region, err := c.target(req)
	if err != nil {
		return driver.UpdateResult{}, err
	}
	if _, err := c.applyTags(ctx, req.Object.Spec, req.Owner, name, region, false); err != nil {
		return driver.UpdateResult{}, err
	}
	if _, err := c.applySettings(ctx, req.Object.Spec, name, region, false); err != nil {
		return driver.UpdateResult{}, err
	}
	return driver.UpdateResult{Connection: c.connection(name, region)}, nil
}

// applyTags writes the bucket's tags: the spec's labels and owner's mark.
// The tags are replaced as a whole, and never deleted, so that the mark
// stays. Without an owner (see knowsOwner), the mark the bucket carries, if
// any, is read and kept. On a fresh bucket, just created, there is nothing
// to keep or remove. applied is false when the endpoint does not implement
// tags.
func (c *bucketClient) applyTags(ctx context.Context, spec storagev1alpha1.BucketSpec, owner driver.Owner, name, region string, fresh bool) (applied bool, _ error) {
	bucket := aws.String(name)
	opt := in(region)
	tags := withOwnerTags(spec.Labels, owner)
	if !owner.Known() && !fresh {
		out, err := c.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: bucket}, opt)
		switch {
		case isNotImplemented(err):
			return false, nil
		case err == nil:
			current := tagMap(out.TagSet)
			for k, v := range current {
				if driver.IsOwnerKey(k) {
					tags[k] = v
				}
			}
			if len(tags) == 0 && len(current) > 0 {
				// Only labels the spec no longer has, and no mark to keep.
				_, err := c.s3.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: bucket}, opt)
				if err := unlessUnsupported(err, codeNoTagSet); err != nil {
					return false, wrapf(err, "delete tags of bucket %q", name)
				}
				return !isNotImplemented(err), nil
			}
		case !hasCode(err, codeNoTagSet):
			return false, wrapf(err, "get tags of bucket %q", name)
		}
	}
	if len(tags) == 0 {
		return true, nil
	}
	_, err := c.s3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{
		Bucket:  bucket,
		Tagging: &types.Tagging{TagSet: desiredTags(tags)},
	}, opt)
	if err := unlessUnsupported(err); err != nil {
		return false, wrapf(err, "put tags of bucket %q", name)
	}
	return !isNotImplemented(err), nil
}

// applySettings writes every setting of spec but the tags (applyTags) to the
// bucket. Writing a setting that is already in place changes nothing.
// Features the endpoint does not implement are skipped (allApplied is then
// false): Observe reports them. On a fresh bucket, just created, nothing
// needs removing: it was never versioned and has no lifecycle, which spares
// two calls.
func (c *bucketClient) applySettings(ctx context.Context, spec storagev1alpha1.BucketSpec, name, region string, fresh bool) (allApplied bool, _ error) {
	bucket := aws.String(name)
	opt := in(region)
	allApplied = true
	skipUnsupported := func(err error, okCodes ...string) error {
		if isNotImplemented(err) {
			allApplied = false
		}
		return unlessUnsupported(err, okCodes...)
	}

	// Versioning. A bucket that was never versioned is left so when the spec
	// disables versioning: suspending would make it a versioned bucket.
	if desiredVersioning(spec) == storagev1alpha1.VersioningEnabled {
		_, err := c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  bucket,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		}, opt)
		if err := skipUnsupported(err); err != nil {
			return false, wrapf(err, "put versioning of bucket %q", name)
		}
	} else if !fresh {
		ver, err := c.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: bucket}, opt)
		if err := skipUnsupported(err); err != nil {
			return false, wrapf(err, "get versioning of bucket %q", name)
		}
		if err == nil && ver.Status == types.BucketVersioningStatusEnabled {
			_, err := c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
				Bucket:                  bucket,
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended},
			}, opt)
			if err := skipUnsupported(err); err != nil {
				return false, wrapf(err, "put versioning of bucket %q", name)
			}
		}
	}

	rule := desiredEncryptionRule(spec)
	_, err := c.s3.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
		Bucket:                            bucket,
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{rule}},
	}, opt)
	if err := skipUnsupported(err); err != nil {
		return false, wrapf(err, "put encryption of bucket %q", name)
	}

	if desiredPublicAccess(spec) == storagev1alpha1.PublicAccessBlocked {
		_, err := c.s3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
			Bucket:                         bucket,
			PublicAccessBlockConfiguration: blockAllPublicAccess(),
		}, opt)
		if err := skipUnsupported(err); err != nil {
			return false, wrapf(err, "put public access block of bucket %q", name)
		}
	} else {
		_, err := c.s3.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: bucket}, opt)
		if err := skipUnsupported(err, codeNoPublicAccessBlock); err != nil {
			return false, wrapf(err, "delete public access block of bucket %q", name)
		}
	}

	if len(spec.Lifecycle) > 0 {
		_, err := c.s3.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
			Bucket:                 bucket,
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: desiredLifecycleRules(spec.Lifecycle)},
		}, opt)
		if err := skipUnsupported(err); err != nil {
			return false, wrapf(err, "put lifecycle of bucket %q", name)
		}
	} else if !fresh {
		_, err := c.s3.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: bucket}, opt)
		if err := skipUnsupported(err, codeNoLifecycle); err != nil {
			return false, wrapf(err, "delete lifecycle of bucket %q", name)
		}
	}
	return allApplied, nil
}

// unlessUnsupported returns err, or nil when it says that the endpoint does
// not implement the call or has one of the given codes.
func unlessUnsupported(err error, okCodes ...string) error {
	if err == nil || isNotImplemented(err) || hasCode(err, okCodes...) {
		return nil
	}
	return err
}

// Delete deletes the bucket. Unless spec.forceDestroy is set, a bucket that
// holds any object or object version is left alone and the deletion is
// blocked; with it, every object version and delete marker is deleted first.
// S3 deletes a bucket at once: a Delete that succeeds leaves it gone.
func (c *bucketClient) Delete(ctx context.Context, req bucketRequest) (driver.DeleteResult, error) {
	gone := driver.DeleteResult{Gone: true}
	name, region, err := c.target(req)
	if err != nil {
		return driver.DeleteResult{}, err
	}
	bucket := aws.String(name)
	opt := in(region)

	// A bucket that was ever versioned may hold old versions and delete
	// markers that a plain listing does not show.
	versioned := false
	ver, err := c.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: bucket}, opt)
	switch {
	case err == nil:
		versioned = ver.Status != ""
	case isNoSuchBucket(err):
		return gone, nil
	case isNotImplemented(err):
	default:
		return driver.DeleteResult{}, wrapf(err, "get versioning of bucket %q", name)
	}

	if req.Object.Spec.ForceDestroy {
		if err := c.emptyBucket(ctx, name, region, versioned); err != nil {
			if isNoSuchBucket(err) {
				return gone, nil
			}
			return driver.DeleteResult{}, err
		}
	} else {
		empty, err := c.isEmpty(ctx, name, region, versioned)
		switch {
		case isNoSuchBucket(err):
			return gone, nil
		case err != nil:
			return driver.DeleteResult{}, err
		case !empty:
			return driver.DeleteResult{}, driver.Blockedf("bucket %q still holds objects: empty it, or set spec.forceDestroy to true to delete them with the bucket", name)
		}
	}

	_, err = c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: bucket}, opt)
	switch {
	case err == nil, isNoSuchBucket(err):
		return gone, nil
	case hasCode(err, codeBucketNotEmpty):
		return driver.DeleteResult{}, driver.Blockedf("bucket %q still holds objects: empty it, or set spec.forceDestroy to true to delete them with the bucket", name)
	}
	return driver.DeleteResult{}, wrapf(err, "delete bucket %q", name)
}

// isNoSuchBucket reports whether err says the bucket does not exist.
func isNoSuchBucket(err error) bool {
	return hasCode(err, codeNoSuchBucket)
}

// isEmpty reports whether the bucket holds no object and, if versioned, no
// object version or delete marker.
func (c *bucketClient) isEmpty(ctx context.Context, name, region string, versioned bool) (bool, error) {
	objs, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name), MaxKeys: aws.Int32(1)}, in(region))
	if err != nil {
		return false, wrapf(err, "list objects of bucket %q", name)
	}
	if len(objs.Contents) > 0 || aws.ToInt32(objs.KeyCount) > 0 {
		return false, nil
	}
	if !versioned {
		return true, nil
	}
	vers, err := c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(name), MaxKeys: aws.Int32(1)}, in(region))
	if err != nil {
		return false, wrapf(err, "list object versions of bucket %q", name)
	}
	return len(vers.Versions) == 0 && len(vers.DeleteMarkers) == 0, nil
}

// emptyBucket deletes every object and, if the bucket is versioned, every
// object version and delete marker, in batches of up to deleteBatchSize. It
// gives up, with an error saying that the deletion goes on, after
// maxDeleteBatches batches.
func (c *bucketClient) emptyBucket(ctx context.Context, name, region string, versioned bool) error {
	deleted := 0
	for range maxDeleteBatches {
		// Each round lists from the start: the previous round deleted what
		// came before.
		var ids []types.ObjectIdentifier
		if versioned {
			out, err := c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{
				Bucket: aws.String(name), MaxKeys: aws.Int32(deleteBatchSize),
			}, in(region))
			if err != nil {
				return wrapf(err, "list object versions of bucket %q", name)
			}
			for _, v := range out.Versions {
				ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
			}
			for _, m := range out.DeleteMarkers {
				ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
			}
		} else {
			out, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
				Bucket: aws.String(name), MaxKeys: aws.Int32(deleteBatchSize),
			}, in(region))
			if err != nil {
				return wrapf(err, "list objects of bucket %q", name)
			}
			for _, o := range out.Contents {
				ids = append(ids, types.ObjectIdentifier{Key: o.Key})
			}
		}
		if len(ids) == 0 {
			return nil
		}
		for start := 0; start < len(ids); start += deleteBatchSize {
			batch := ids[start:min(start+deleteBatchSize, len(ids))]
			out, err := c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: aws.String(name),
				Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)},
			}, in(region))
			if err != nil {
				return wrapf(err, "delete objects of bucket %q", name)
			}
			if len(out.Errors) > 0 {
				e := out.Errors[0]
				return fmt.Errorf("delete objects of bucket %q: %d of %d not deleted, the first %q: %s: %s",
					name, len(out.Errors), len(batch), aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
			deleted += len(batch) - len(out.Errors)
		}
	}
	return fmt.Errorf("empty bucket %q: deleted %d objects and versions, more remain: the deletion goes on at the next attempt", name, deleted)
}
