// Package bucket is the sinks/public storage driver for object storage
// through gocloud.dev/blob (v0.47): Google Cloud Storage (gs://), Amazon
// S3, Cloudflare R2 and other S3-compatible stores (s3://, aws-sdk-go-v2),
// and, for tests, memblob (mem://) and fileblob (file://).
//
// What it does with the layout of sinks/public (SPEC 3.1):
//   - Every object is Content-Type application/json; objects under
//     snapshots/<id>/ carry Cache-Control "public, max-age=31536000,
//     immutable", latest.json LatestCacheControl. The MD5 of every upload is
//     given to the store (blob's ContentMD5: checked by the portable type,
//     and by GCS server-side; S3 checks its own checksums).
//   - Objects are written in place under snapshots/<id>/ (nothing names
//     them before latest.json does), by Concurrency uploads at once, each
//     retried through sources/retry. An object is created only if absent:
//     one that exists with the same bytes (a crashed run of the same
//     snapshot) is kept, one with other bytes fails the publish (caches keep
//     an object for a year: it is never overwritten).
//   - With Options.Copy, Reuse is a server-side Copy from the previous
//     snapshot after its size and recorded sha256 are checked; otherwise
//     every object is uploaded (faster for small objects, measured).
//   - latest.json is one PUT, conditional on the version read at the start:
//     GCS ifGenerationMatch (or ifGenerationMatch=0 when there was none),
//     S3/R2 If-Match on the ETag (If-None-Match: * when there was none);
//     memblob and fileblob have no such precondition and are checked by a
//     read just before the write.
//   - The lock is an object, .refrecon.lock, created with a create-only
//     precondition (GCS ifGenerationMatch=0, S3/R2 If-None-Match: *)
//     holding the run id and an expiry; an expired lock is taken over.
//     deploy/README.md says what that guarantees on each store.
//
// A path in the URL (gs://bucket/prefix, s3://bucket/prefix) is the key
// prefix of the layout; the query takes gocloud.dev's URL parameters
// (s3: region, endpoint, use_path_style, request_checksum_calculation...;
// gs:// honours STORAGE_EMULATOR_HOST). Credentials come the standard way
// of each cloud and never appear in a message: String() is the URL without
// its query.
package bucket

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file://
	_ "gocloud.dev/blob/gcsblob"  // gs://
	_ "gocloud.dev/blob/memblob"  // mem://
	_ "gocloud.dev/blob/s3blob"   // s3://
	"gocloud.dev/gcerrors"

	"github.com/refrecon/refrecon/sinks/public"
	"github.com/refrecon/refrecon/sources/redact"
	"github.com/refrecon/refrecon/sources/retry"
)

// The Cache-Control of SPEC 3.1.
const (
	SnapshotCacheControl      = "public, max-age=31536000, immutable"
	DefaultLatestCacheControl = "public, max-age=60"
	DefaultConcurrency        = 32
	contentType               = "application/json"
	// sha256Meta is the object metadata key that holds the sha256 of a
	// snapshot object's bytes, recorded at upload, checked before a copy.
	sha256Meta = "sha256"
	// LockKey is the lock object at the root of the layout.
	LockKey = ".refrecon.lock"
)

// Options configure a Store; zero fields take the defaults.
type Options struct {
	Concurrency        int    // uploads at once (default 32)
	LatestCacheControl string // Cache-Control of latest.json (LATEST_CACHE_CONTROL)
	Retry              retry.Policy
	// LockPoll is how often a waiting Lock looks again (default 2 s).
	LockPoll time.Duration
	// Copy makes Reuse a server-side copy of the previous snapshot's
	// unchanged objects (a HEAD to check size and sha256, then a COPY)
	// instead of uploading them again. Off by default: for snapshot-sized
	// objects (about 1.5 KB) two requests cost more than one PUT, measured
	// against the S3 fake (docs/performance.md).
	Copy bool
}

// Store is a public.Storage in a bucket.
type Store struct {
	b    *blob.Bucket
	name string
	opts Options
}

var _ public.Storage = (*Store)(nil)

// Open opens the bucket a PUBLIC_DIR URL names and checks that it can be
// reached: an unreachable store or a missing bucket is an error.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("PUBLIC_DIR: not a URL: %w", err)
	}
	name := redact.URL(rawURL)
	switch u.Scheme {
	case "s3", "gs", "mem":
		if p := strings.Trim(u.Path, "/"); p != "" {
			q := u.Query()
			q.Set("prefix", p+"/")
			u.RawQuery = q.Encode()
		}
		u.Path = ""
	case "file":
		q := u.Query()
		q.Set("create_dir", "true")
		u.RawQuery = q.Encode()
	default:
		return nil, fmt.Errorf("PUBLIC_DIR %s: scheme %q: want s3, gs or file", name, u.Scheme)
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("PUBLIC_DIR %s: %w", name, scrub(err))
	}
	ok, err := b.IsAccessible(ctx)
	if err == nil && !ok {
		err = errors.New("the bucket does not exist or cannot be reached")
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("PUBLIC_DIR %s: %w", name, classify(scrub(err)))
	}
	return New(b, name, opts), nil
}

// scrub passes every URL in an error from the opener through redact.URL:
// the opener quotes the URL it was given in forms of its own (without the
// path, say), with credentials and a query that may hold an endpoint with
// credentials.
// The original error stays in the chain (errors.Is/As, gcerrors.Code)
// but its text is never shown.
func scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := redact.URLsIn(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// New returns a Store over an open bucket (tests: memblob); name is what
// String says.
func New(b *blob.Bucket, name string, opts Options) *Store {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.LatestCacheControl == "" {
		opts.LatestCacheControl = DefaultLatestCacheControl
	}
	if opts.LockPoll <= 0 {
		opts.LockPoll = 2 * time.Second
	}
	return &Store{b: b, name: name, opts: opts}
}

// Close closes the bucket.
func (s *Store) Close() error { return s.b.Close() }

// String is the URL without its query.
func (s *Store) String() string { return s.name }

// Bucket is the underlying bucket (tests read attributes through it).
func (s *Store) Bucket() *blob.Bucket { return s.b }

// classify gives a blob error its retry class.
func classify(err error) error {
	if err == nil {
		return nil
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return retry.Mark(fmt.Errorf("%w (%w)", err, fs.ErrNotExist), retry.ErrNotFound)
	case gcerrors.PermissionDenied:
		return retry.Mark(err, retry.ErrRefused)
	case gcerrors.InvalidArgument, gcerrors.FailedPrecondition, gcerrors.AlreadyExists:
		return err
	case gcerrors.Canceled:
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// Unavailable, ResourceExhausted, Internal, DeadlineExceeded, and
	// Unknown (a reset connection, a 5xx the driver does not name).
	return retry.Transient(err, 0)
}

func (s *Store) do(ctx context.Context, op func(ctx context.Context) error) error {
	_, err := retry.Do(ctx, s.opts.Retry, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, classify(op(ctx))
	})
	return err
}

func checkKey(key string) error {
	if !public.CleanKey(key) {
		return fmt.Errorf("key %q: not a clean relative path", key)
	}
	return nil
}

// ReadObject reads the object at key.
func (s *Store) ReadObject(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var data []byte
	err := s.do(ctx, func(ctx context.Context) error {
		var err error
		data, err = s.b.ReadAll(ctx, key)
		return err
	})
	return data, err
}

// version is latest.json's version: its GCS generation where the store
// has one, else its ETag.
func version(a *blob.Attributes) string {
	var oa storage.ObjectAttrs
	if a.As(&oa) && oa.Generation != 0 {
		return "gen:" + strconv.FormatInt(oa.Generation, 10)
	}
	return "etag:" + a.ETag
}

func (s *Store) latestVersion(ctx context.Context) (string, error) {
	var v string
	err := s.do(ctx, func(ctx context.Context) error {
		a, err := s.b.Attributes(ctx, public.LatestName)
		if err != nil {
			return err
		}
		v = version(a)
		return nil
	})
	return v, err
}

// ReadLatest reads latest.json and its version.
func (s *Store) ReadLatest(ctx context.Context) ([]byte, string, error) {
	v, err := s.latestVersion(ctx)
	if err != nil {
		return nil, "", err
	}
	data, err := s.ReadObject(ctx, public.LatestName)
	if err != nil {
		return nil, "", err
	}
	// A write between the two reads changes the version; the conditional
	// write then fails rather than overwrite it.
	return data, v, nil
}

// WriteLatest replaces latest.json in one PUT if it is still at version.
func (s *Store) WriteLatest(ctx context.Context, data []byte, ver string) error {
	cur, err := s.latestVersion(ctx)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cur = ""
	case err != nil:
		return err
	}
	if cur != ver {
		return fmt.Errorf("%s: %w", public.LatestName, public.ErrConflict)
	}
	opts := s.writerOptions(data, s.opts.LatestCacheControl)
	opts.IfNotExist = ver == ""
	if ver != "" {
		opts.BeforeWrite = ifMatch(ver)
	}
	err = s.do(ctx, func(ctx context.Context) error {
		return s.b.WriteAll(ctx, public.LatestName, data, opts)
	})
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return fmt.Errorf("%s: %w", public.LatestName, public.ErrConflict)
	}
	return err
}

// ifMatch makes a write conditional on the object's version where the
// driver exposes a way (GCS generation, S3 ETag).
func ifMatch(ver string) func(as func(any) bool) error {
	return func(as func(any) bool) error {
		if g, ok := strings.CutPrefix(ver, "gen:"); ok {
			var oh **storage.ObjectHandle
			if as(&oh) {
				gen, err := strconv.ParseInt(g, 10, 64)
				if err != nil {
					return err
				}
				*oh = (*oh).If(storage.Conditions{GenerationMatch: gen})
			}
			return nil
		}
		if e, ok := strings.CutPrefix(ver, "etag:"); ok && e != "" {
			var in *transfermanager.UploadObjectInput
			if as(&in) {
				in.IfMatch = aws.String(e)
			}
		}
		return nil
	}
}

func (s *Store) writerOptions(data []byte, cacheControl string) *blob.WriterOptions {
	sum := md5.Sum(data)
	return &blob.WriterOptions{
		ContentType: contentType, CacheControl: cacheControl, ContentMD5: sum[:],
		DisableContentTypeDetection: true,
	}
}

// ListSnapshots lists the prefixes under snapshots/.
func (s *Store) ListSnapshots(ctx context.Context) ([]string, error) {
	var names []string
	err := s.each(ctx, &blob.ListOptions{Prefix: public.SnapshotsDir + "/", Delimiter: "/"}, func() { names = names[:0] }, func(o *blob.ListObject) {
		if o.IsDir {
			names = append(names, strings.TrimSuffix(strings.TrimPrefix(o.Key, public.SnapshotsDir+"/"), "/"))
		}
	})
	slices.Sort(names)
	return names, err
}

// list returns every object under prefix with its size, keys relative to
// prefix.
func (s *Store) list(ctx context.Context, prefix string) ([]public.Object, error) {
	var out []public.Object
	err := s.each(ctx, &blob.ListOptions{Prefix: prefix}, func() { out = out[:0] }, func(o *blob.ListObject) {
		out = append(out, public.Object{Key: strings.TrimPrefix(o.Key, prefix), Size: o.Size})
	})
	return out, err
}

// each calls f with every object the bucket lists for opts. A failed
// listing is retried whole (s.do): restart is called before every attempt,
// to drop what an earlier one collected.
func (s *Store) each(ctx context.Context, opts *blob.ListOptions, restart func(), f func(*blob.ListObject)) error {
	return s.do(ctx, func(ctx context.Context) error {
		restart()
		it := s.b.List(opts)
		for {
			o, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			f(o)
		}
	})
}

// DeleteSnapshot deletes every object under snapshots/<id>/.
func (s *Store) DeleteSnapshot(ctx context.Context, id string) error {
	if !public.CleanName(id) {
		return fmt.Errorf("snapshot %q: not a snapshot name", id)
	}
	prefix := public.SnapshotsDir + "/" + id + "/"
	objs, err := s.list(ctx, prefix)
	if err != nil {
		return err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = prefix + o.Key
	}
	return s.deleteAll(ctx, keys)
}

// deleteAll deletes keys, Concurrency at once; one already gone is fine.
func (s *Store) deleteAll(ctx context.Context, keys []string) error {
	return s.parallel(ctx, len(keys), func(ctx context.Context, i int) error {
		err := s.do(ctx, func(ctx context.Context) error { return s.b.Delete(ctx, keys[i]) })
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
}

// parallel runs f for 0..n-1, Concurrency at once, and returns the first
// error (the others are cancelled).
func (s *Store) parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, s.opts.Concurrency)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// NewSnapshot starts writing snapshots/<id>/ in place.
func (s *Store) NewSnapshot(_ context.Context, id string) (public.SnapshotWriter, error) {
	if !public.CleanName(id) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("snapshot %q: not a snapshot name", id)
	}
	return &snapshot{s: s, prefix: public.SnapshotsDir + "/" + id + "/"}, nil
}

// snapshot writes one snapshot's objects; Put and Reuse run from up to
// Concurrency goroutines.
type snapshot struct {
	s      *Store
	prefix string

	mu      sync.Mutex
	created []string // keys this writer created, for Abort
	done    bool
}

func (w *snapshot) Parallelism() int { return w.s.opts.Concurrency }

func (w *snapshot) closed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

func (w *snapshot) record(key string) {
	w.mu.Lock()
	w.created = append(w.created, key)
	w.mu.Unlock()
}

// Put creates the object if absent. An object already there with the
// same bytes (a crashed run of the same snapshot) is kept; one with other
// bytes is an error.
func (w *snapshot) Put(ctx context.Context, rel string, data []byte) error {
	if w.closed() {
		return errors.New("snapshot already committed or aborted")
	}
	if err := checkKey(rel); err != nil {
		return err
	}
	key := w.prefix + rel
	opts := w.s.writerOptions(data, SnapshotCacheControl)
	opts.IfNotExist = true
	sum := sha256.Sum256(data)
	opts.Metadata = map[string]string{sha256Meta: hex.EncodeToString(sum[:])}
	err := w.s.do(ctx, func(ctx context.Context) error { return w.s.b.WriteAll(ctx, key, data, opts) })
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		old, rerr := w.s.ReadObject(ctx, key)
		if rerr == nil && bytes.Equal(old, data) {
			// Ours from an attempt whose answer was lost (stored, then a
			// reset or a timeout, then the retry's precondition failed), or
			// a crashed run's: either way Abort removes it, unless it
			// belongs to the published snapshot (Abort checks).
			w.record(key)
			return nil
		}
		return fmt.Errorf("%s exists already with other bytes (an object under snapshots/ is never overwritten)", key)
	}
	if err != nil {
		return err
	}
	w.record(key)
	return nil
}

// Reuse copies the previous snapshot's object server-side after checking
// its size and the sha256 its upload recorded in its metadata (an object
// without one, or with another, is uploaded again).
func (w *snapshot) Reuse(ctx context.Context, rel, from string, size int64, sum [sha256.Size]byte) bool {
	if !w.s.opts.Copy || w.closed() || checkKey(rel) != nil || !public.CleanName(from) {
		return false
	}
	src := public.SnapshotsDir + "/" + from + "/" + rel
	var a *blob.Attributes
	err := w.s.do(ctx, func(ctx context.Context) error {
		var err error
		a, err = w.s.b.Attributes(ctx, src)
		return err
	})
	want := hex.EncodeToString(sum[:])
	if err != nil || a.Size != size || a.Metadata[sha256Meta] != want {
		return false
	}
	key := w.prefix + rel
	if err := w.s.do(ctx, func(ctx context.Context) error { return w.s.b.Copy(ctx, key, src, copyOptions(want)) }); err != nil {
		return false
	}
	w.record(key)
	return true
}

// copyOptions set the SPEC's headers and the sha256 on a server-side copy
// explicitly, rather than trusting every S3-compatible store to copy them
// from the source (memblob and fileblob copy them).
func copyOptions(sum string) *blob.CopyOptions {
	return &blob.CopyOptions{BeforeCopy: func(as func(any) bool) error {
		var in *s3.CopyObjectInput
		if as(&in) {
			in.MetadataDirective = s3types.MetadataDirectiveReplace
			in.ContentType = aws.String(contentType)
			in.CacheControl = aws.String(SnapshotCacheControl)
			in.Metadata = map[string]string{sha256Meta: sum}
		}
		var c *storage.Copier
		if as(&c) {
			c.ContentType = contentType
			c.CacheControl = SnapshotCacheControl
			c.Metadata = map[string]string{sha256Meta: sum}
		}
		return nil
	}}
}

// Flush has nothing to do: an upload is stored when it returns.
func (w *snapshot) Flush(context.Context) error { return nil }

// List lists the snapshot's prefix.
func (w *snapshot) List(ctx context.Context) ([]public.Object, error) {
	return w.s.list(ctx, w.prefix)
}

// Commit has nothing to do: the objects are in place; latest.json makes
// them the published snapshot.
func (w *snapshot) Commit(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errors.New("snapshot already committed or aborted")
	}
	w.done = true
	w.created = nil
	return nil
}

// Abort deletes the objects this writer created or found already stored
// with its bytes, except when latest.json names this very snapshot (a
// re-run of the published snapshot id must never delete what is served).
func (w *snapshot) Abort(ctx context.Context) error {
	w.mu.Lock()
	keys := w.created
	w.created, w.done = nil, true
	w.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	if published, err := w.published(ctx); err != nil || published {
		return err
	}
	return w.s.deleteAll(ctx, keys)
}

// published reports whether latest.json names this writer's snapshot.
func (w *snapshot) published(ctx context.Context) (bool, error) {
	id, err := public.NewReader(w.s).Latest(ctx)
	if errors.Is(err, public.ErrNoSnapshot) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("abort: %w", err)
	}
	return w.prefix == public.SnapshotsDir+"/"+id+"/", nil
}

// Lock creates the lock object if absent. A lock whose expiry has passed
// (its holder died) is deleted and created again; any other is held.
func (s *Store) Lock(ctx context.Context, req public.LockRequest) (func() error, error) {
	ttl := req.TTL
	if ttl <= 0 {
		ttl = 6 * time.Hour
	}
	data, err := json.Marshal(public.NewHolder(req.RunID, ttl))
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	for {
		err := s.createLock(ctx, data)
		if err == nil {
			break
		}
		var le *public.LockedError
		if !errors.As(err, &le) || !req.Wait {
			return nil, err
		}
		t := time.NewTimer(s.opts.LockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("lock %s: waiting: %w", s.name, ctx.Err())
		case <-t.C:
		}
	}
	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() {
			// Delete the lock only while it is still ours.
			ctx := context.WithoutCancel(ctx)
			cur, err := s.ReadObject(ctx, LockKey)
			if errors.Is(err, fs.ErrNotExist) {
				return
			}
			if err != nil {
				uerr = fmt.Errorf("unlock %s: %w", s.name, err)
				return
			}
			if !bytes.Equal(cur, data) {
				uerr = fmt.Errorf("unlock %s: the lock is no longer this run's (it expired and was taken over)", s.name)
				return
			}
			if err := s.do(ctx, func(ctx context.Context) error { return s.b.Delete(ctx, LockKey) }); err != nil && !errors.Is(err, fs.ErrNotExist) {
				uerr = fmt.Errorf("unlock %s: %w", s.name, err)
			}
		})
		return uerr
	}, nil
}

func (s *Store) createLock(ctx context.Context, data []byte) error {
	opts := s.writerOptions(data, "no-store")
	opts.IfNotExist = true
	err := s.do(ctx, func(ctx context.Context) error { return s.b.WriteAll(ctx, LockKey, data, opts) })
	if gcerrors.Code(err) != gcerrors.FailedPrecondition {
		if err != nil {
			return fmt.Errorf("lock %s: %w", s.name, err)
		}
		return nil
	}
	cur, err := s.ReadObject(ctx, LockKey)
	if errors.Is(err, fs.ErrNotExist) {
		return s.createLock(ctx, data) // released meanwhile
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", s.name, err)
	}
	h := public.ParseHolder(cur)
	if h.Unknown {
		return &public.LockedError{Store: s.name, Holder: h}
	}
	if !h.Expires.IsZero() && time.Now().After(h.Expires) {
		// Expired: its holder died. Delete it and try once more; a
		// competitor doing the same loses the create-only race.
		if err := s.do(ctx, func(ctx context.Context) error { return s.b.Delete(ctx, LockKey) }); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("lock %s: removing an expired lock: %w", s.name, err)
		}
		err := s.do(ctx, func(ctx context.Context) error { return s.b.WriteAll(ctx, LockKey, data, opts) })
		if err == nil {
			return nil
		}
		if gcerrors.Code(err) != gcerrors.FailedPrecondition {
			return fmt.Errorf("lock %s: %w", s.name, err)
		}
	}
	return &public.LockedError{Store: s.name, Holder: h}
}
