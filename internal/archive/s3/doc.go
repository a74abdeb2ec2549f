// Package s3 is the archive's destination in an S3-compatible object store (AWS S3, MinIO,
// Ceph RGW, SeaweedFS, ...), through the minio-go client. It implements archive.Remote:
//
//	<prefix>/.staging/<store>/<run id>.ndjson.zst          the sealed archive, before the store changes
//	<prefix>/<store>/<YYYY>/<MM>/<DD>/<run id>.ndjson.zst   the records the store lost (final)
//	<prefix>/<store>/<YYYY>/<MM>/<DD>/<run id>.manifest.json records, timestamps, sizes, SHA-256
//
// Every upload streams from the local sealed file, in parts of PartSize bytes read straight
// from the file (no part is held in memory), each sent with its MD5 (Content-MD5), its SHA-256
// signed into the request (x-amz-content-sha256) and as a checksum the server verifies and
// keeps (x-amz-checksum-sha256). After every upload the object is looked at again (HEAD, with
// checksums asked for) and its size and checksum, or failing a checksum its MD5 ETag, must be
// what was sent; otherwise the upload fails with errs.ErrArchiveIntegrity. A multipart upload
// that fails is aborted; one a crash left is aborted by the next recovery (Clean).
//
// Final objects are made by a server-side copy of the staged one when the store lost all of
// it, and uploaded from a local rebuild otherwise; they and their manifests get the configured
// Object Lock retention, legal hold and server-side encryption. Staged objects get the
// encryption only, so that they can be removed once published.
//
// Credentials come from the file a config names (AWS shared credentials format), or else from
// the standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the shared credentials and
// config files, then web identity (AWS_WEB_IDENTITY_TOKEN_FILE), the container endpoint and
// the instance role. No error or log line carries a credential.
package s3
