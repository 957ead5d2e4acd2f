//! The S3 backend: the state document at `KEY` and its lock at `KEY.lock` in a bucket
//! of any S3-compatible store (AWS S3, MinIO, moto), through the AWS SDK for Rust.
//! Writes are conditional (`If-Match` on the ETag read, `If-None-Match: *` to
//! create), so two writers can never both win; see [`crate::doc`]. With versioning
//! on the bucket, every earlier document stays retrievable.
//!
//! Credentials and region come from the usual AWS sources (environment, profile,
//! instance role); `endpoint` points at another S3-compatible service, with
//! path-style addressing.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;

use crate::doc::{Conflict, DocBackend, DocStore};
use crate::{block, OwnRuntime, Result, StateError};

#[derive(Clone)]
pub struct S3Store {
    rt: Arc<OwnRuntime>,
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

/// Opens the state document `key` in `bucket` as a backend.
pub fn open(bucket: &str, key: &str, region: &str, endpoint: Option<&str>) -> Result<DocBackend> {
    DocBackend::open(Box::new(S3Store::connect(bucket, key, region, endpoint)?))
}

fn s3_error<E: std::error::Error + Send + Sync + 'static>(
    what: &str,
    e: aws_sdk_s3::error::SdkError<E>,
) -> StateError {
    use aws_sdk_s3::error::SdkError;
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => StateError::Unavailable(
            format!("{what}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)),
        ),
        _ => StateError::Storage(format!(
            "{what}: {}",
            aws_sdk_s3::error::DisplayErrorContext(&e)
        )),
    }
}

fn status<E>(e: &aws_sdk_s3::error::SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl S3Store {
    pub fn connect(
        bucket: &str,
        key: &str,
        region: &str,
        endpoint: Option<&str>,
    ) -> Result<S3Store> {
        let rt = OwnRuntime::new()?;
        let region = region.to_string();
        let endpoint = endpoint.map(str::to_string);
        let client = block(&rt, || async move {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region));
            if let Some(e) = &endpoint {
                loader = loader.endpoint_url(e);
            }
            let conf = loader.load().await;
            let s3 = aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(endpoint.is_some())
                .build();
            aws_sdk_s3::Client::from_conf(s3)
        });
        Ok(S3Store {
            rt: Arc::new(rt),
            client,
            bucket: bucket.to_string(),
            key: key.trim_start_matches('/').to_string(),
        })
    }

    fn object(&self, lock: bool) -> String {
        if lock {
            format!("{}.lock", self.key)
        } else {
            self.key.clone()
        }
    }
}

impl DocStore for S3Store {
    fn get(&self, lock: bool) -> Result<Option<(Vec<u8>, String)>> {
        let key = self.object(lock);
        let what = format!("reading s3://{}/{key}", self.bucket);
        block(&self.rt, || async {
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await;
            match out {
                Ok(o) => {
                    let tag = o.e_tag().unwrap_or_default().to_string();
                    let body = o
                        .body
                        .collect()
                        .await
                        .map_err(|e| StateError::Unavailable(format!("{what}: {e}")))?;
                    Ok(Some((body.to_vec(), tag)))
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                Err(e) if status(&e) == Some(404) => Ok(None),
                Err(e) => Err(s3_error(&what, e)),
            }
        })
    }

    fn put(
        &self,
        lock: bool,
        body: Vec<u8>,
        expect: Option<&str>,
    ) -> Result<std::result::Result<String, Conflict>> {
        let key = self.object(lock);
        let what = format!("writing s3://{}/{key}", self.bucket);
        block(&self.rt, || async {
            let mut req = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type("application/json")
                .body(ByteStream::from(body));
            req = match expect {
                Some(tag) => req.if_match(tag),
                None => req.if_none_match("*"),
            };
            match req.send().await {
                Ok(o) => Ok(Ok(o.e_tag().unwrap_or_default().to_string())),
                // 412: the precondition failed; 409: a concurrent conditional write.
                Err(e) if matches!(status(&e), Some(412) | Some(409)) => Ok(Err(Conflict)),
                Err(e) if status(&e) == Some(404) && expect.is_some() => Ok(Err(Conflict)),
                Err(e) => Err(s3_error(&what, e)),
            }
        })
    }

    fn delete(&self, lock: bool, expect: &str) -> Result<std::result::Result<(), Conflict>> {
        let key = self.object(lock);
        let what = format!("deleting s3://{}/{key}", self.bucket);
        block(&self.rt, || async {
            match self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(&key)
                .if_match(expect)
                .send()
                .await
            {
                Ok(_) => Ok(Ok(())),
                Err(e) if matches!(status(&e), Some(412) | Some(404)) => Ok(Err(Conflict)),
                Err(e) => Err(s3_error(&what, e)),
            }
        })
    }

    fn describe(&self) -> String {
        format!("the S3 state s3://{}/{}", self.bucket, self.key)
    }

    fn reopen(&self) -> Result<Box<dyn DocStore>> {
        Ok(Box::new(self.clone()))
    }
}

/// Plain objects under a prefix of a bucket (backups use it).
#[derive(Clone)]
pub struct S3Blobs {
    store: S3Store,
    prefix: String,
}

impl S3Blobs {
    pub fn connect(
        bucket: &str,
        prefix: &str,
        region: &str,
        endpoint: Option<&str>,
    ) -> Result<S3Blobs> {
        Ok(S3Blobs {
            store: S3Store::connect(bucket, "", region, endpoint)?,
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.store.bucket, self.prefix)
    }

    pub fn put(&self, rel: &str, body: Vec<u8>) -> Result<()> {
        let key = self.key(rel);
        let what = format!("writing s3://{}/{key}", self.store.bucket);
        block(&self.store.rt, || async {
            self.store
                .client
                .put_object()
                .bucket(&self.store.bucket)
                .key(&key)
                .body(ByteStream::from(body))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s3_error(&what, e))
        })
    }

    pub fn get(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let key = self.key(rel);
        let what = format!("reading s3://{}/{key}", self.store.bucket);
        block(&self.store.rt, || async {
            match self
                .store
                .client
                .get_object()
                .bucket(&self.store.bucket)
                .key(&key)
                .send()
                .await
            {
                Ok(o) => o
                    .body
                    .collect()
                    .await
                    .map(|b| Some(b.to_vec()))
                    .map_err(|e| StateError::Unavailable(format!("{what}: {e}"))),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                Err(e) if status(&e) == Some(404) => Ok(None),
                Err(e) => Err(s3_error(&what, e)),
            }
        })
    }

    /// Every key under the prefix, relative to it.
    pub fn list(&self) -> Result<Vec<String>> {
        let prefix = self.key("");
        let what = format!("listing s3://{}/{prefix}", self.store.bucket);
        block(&self.store.rt, || async {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .store
                    .client
                    .list_objects_v2()
                    .bucket(&self.store.bucket)
                    .prefix(&prefix)
                    .set_continuation_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| s3_error(&what, e))?;
                for o in page.contents() {
                    if let Some(k) = o.key() {
                        out.push(k.strip_prefix(&prefix).unwrap_or(k).to_string());
                    }
                }
                match page.next_continuation_token() {
                    Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                    _ => return Ok(out),
                }
            }
        })
    }

    pub fn delete(&self, rel: &str) -> Result<()> {
        let key = self.key(rel);
        let what = format!("deleting s3://{}/{key}", self.store.bucket);
        block(&self.store.rt, || async {
            self.store
                .client
                .delete_object()
                .bucket(&self.store.bucket)
                .key(&key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s3_error(&what, e))
        })
    }
}
