//! A minimal Kafka client connection: framing, ApiVersions negotiation, Metadata and Fetch.

use anyhow::{anyhow, bail, ensure, Context, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FetchRequest, FetchResponse, MetadataRequest,
    MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response the oracle accepts (a guard against reading garbage as a length).
const MAX_RESPONSE: usize = 512 * 1024 * 1024;
const CLIENT_ID: &str = "meshkit-oracle";

/// The request versions the oracle can speak, per API: `(min, max)`.
///
/// Fetch stops at v12, the last version that names topics (v13+ uses topic ids only);
/// Metadata stops at v12 for the same reason of keeping to by-name lookups.
const API_VERSIONS_RANGE: (i16, i16) = (0, 3);
const METADATA_RANGE: (i16, i16) = (1, 12);
const FETCH_RANGE: (i16, i16) = (4, 12);

/// A request type together with its API key and response type.
trait Api: Encodable + HeaderVersion {
    const KEY: ApiKey;
    /// Whether bytes left after decoding the response are an error. They are for Fetch, where a
    /// misaligned decode would corrupt the view; librdkafka's mock cluster, for one, sends a
    /// spare byte after its Metadata v12 responses.
    const STRICT: bool;
    type Response: Decodable + HeaderVersion;
}

impl Api for ApiVersionsRequest {
    const KEY: ApiKey = ApiKey::ApiVersions;
    const STRICT: bool = false;
    type Response = ApiVersionsResponse;
}

impl Api for MetadataRequest {
    const KEY: ApiKey = ApiKey::Metadata;
    const STRICT: bool = false;
    type Response = MetadataResponse;
}

impl Api for FetchRequest {
    const KEY: ApiKey = ApiKey::Fetch;
    const STRICT: bool = true;
    type Response = FetchResponse;
}

/// The versions chosen for this connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Versions {
    pub(super) api_versions: i16,
    pub(super) metadata: i16,
    pub(super) fetch: i16,
}

/// Formats a Kafka error code with its name.
pub(super) fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        Some(e) => format!("error code {code} ({e:?})"),
        None => "no error (0)".to_string(),
    }
}

/// One connection to one broker.
pub(super) struct Connection {
    addr: String,
    stream: TcpStream,
    correlation_id: i32,
    pub(super) versions: Versions,
}

impl Connection {
    /// Connects and negotiates request versions with ApiVersions.
    pub(super) async fn connect(addr: &str) -> Result<Connection> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to broker {addr}"))?;
        stream.set_nodelay(true).ok();
        let mut conn = Connection {
            addr: addr.to_string(),
            stream,
            correlation_id: 0,
            versions: Versions {
                api_versions: API_VERSIONS_RANGE.1,
                metadata: METADATA_RANGE.0,
                fetch: FETCH_RANGE.0,
            },
        };
        conn.negotiate().await?;
        Ok(conn)
    }

    /// The address this connection was opened to.
    pub(super) fn addr(&self) -> &str {
        &self.addr
    }

    async fn negotiate(&mut self) -> Result<()> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str(CLIENT_ID))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        // A broker that does not know v3 answers with UNSUPPORTED_VERSION in the v0 layout:
        // fall back to v0 then.
        let response = match self
            .call(&request, API_VERSIONS_RANGE.1)
            .await
            .with_context(|| format!("ApiVersions v{} to {}", API_VERSIONS_RANGE.1, self.addr))
        {
            Ok(r) if r.error_code == 0 => r,
            first => {
                let fallback = self.call(&request, API_VERSIONS_RANGE.0).await;
                match (first, fallback) {
                    (_, Ok(r)) if r.error_code == 0 => {
                        self.versions.api_versions = API_VERSIONS_RANGE.0;
                        r
                    }
                    (Err(e), _) => return Err(e),
                    (Ok(r), _) => bail!(
                        "ApiVersions to {} failed with {}",
                        self.addr,
                        error_name(r.error_code)
                    ),
                }
            }
        };
        let pick = |key: ApiKey, (lo, hi): (i16, i16)| -> Result<i16> {
            let theirs = response
                .api_keys
                .iter()
                .find(|k| k.api_key == key as i16)
                .ok_or_else(|| {
                    anyhow!(
                        "broker {} does not list {key:?} (key {}) in ApiVersions",
                        self.addr,
                        key as i16
                    )
                })?;
            let v = hi.min(theirs.max_version);
            ensure!(
                v >= lo.max(theirs.min_version),
                "broker {} supports {key:?} v{}..v{}, the oracle speaks v{lo}..v{hi}",
                self.addr,
                theirs.min_version,
                theirs.max_version
            );
            Ok(v)
        };
        self.versions.metadata = pick(ApiKey::Metadata, METADATA_RANGE)?;
        self.versions.fetch = pick(ApiKey::Fetch, FETCH_RANGE)?;
        Ok(())
    }

    /// Sends one request and reads its response.
    async fn call<R: Api>(&mut self, request: &R, version: i16) -> Result<R::Response> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let correlation_id = self.correlation_id;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header.encode(&mut buf, R::header_version(version))?;
        request
            .encode(&mut buf, version)
            .with_context(|| format!("encoding {:?} v{version}", R::KEY))?;
        let len = i32::try_from(buf.len() - 4).context("request too large")?;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        self.stream
            .write_all(&buf)
            .await
            .with_context(|| format!("sending {:?} v{version} to {}", R::KEY, self.addr))?;

        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).await.with_context(|| {
            format!(
                "reading the {:?} v{version} response from {} (connection closed?)",
                R::KEY,
                self.addr
            )
        })?;
        let len = i32::from_be_bytes(len);
        ensure!(
            len >= 0 && (len as usize) <= MAX_RESPONSE,
            "{:?} v{version} response from {} has an implausible size {len}",
            R::KEY,
            self.addr
        );
        let mut body = vec![0u8; len as usize];
        self.stream
            .read_exact(&mut body)
            .await
            .with_context(|| format!("reading {len} bytes of {:?} response", R::KEY))?;
        let mut body = Bytes::from(body);
        let response_header = ResponseHeader::decode(&mut body, R::Response::header_version(version))
            .with_context(|| format!("decoding the {:?} v{version} response header", R::KEY))?;
        ensure!(
            response_header.correlation_id == correlation_id,
            "{:?} response from {} has correlation id {}, expected {correlation_id}",
            R::KEY,
            self.addr,
            response_header.correlation_id
        );
        let response = R::Response::decode(&mut body, version)
            .with_context(|| format!("decoding the {:?} v{version} response", R::KEY))?;
        if R::STRICT && body.has_remaining() {
            bail!(
                "{:?} v{version} response from {} has {} undecoded trailing bytes",
                R::KEY,
                self.addr,
                body.remaining()
            );
        }
        Ok(response)
    }

    /// Metadata for one topic (no auto-creation).
    pub(super) async fn metadata(&mut self, topic: &str) -> Result<MetadataResponse> {
        let v = self.versions.metadata;
        let request = MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(topic.to_string()))))]))
            .with_allow_auto_topic_creation(false);
        self.call(&request, v)
            .await
            .with_context(|| format!("Metadata v{v} for topic {topic:?} from {}", self.addr))
    }

    /// One read_uncommitted fetch of one partition from `offset`.
    pub(super) async fn fetch(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        partition_max_bytes: i32,
    ) -> Result<PartitionData> {
        let v = self.versions.fetch;
        let request = FetchRequest::default()
            .with_max_wait_ms(50)
            .with_min_bytes(1)
            .with_max_bytes(partition_max_bytes)
            .with_isolation_level(0)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(partition_max_bytes)])]);
        let response = self.call(&request, v).await.with_context(|| {
            format!(
                "Fetch v{v} of topic {topic:?} partition {partition} at offset {offset} from {}",
                self.addr
            )
        })?;
        ensure!(
            response.error_code == 0,
            "Fetch of topic {topic:?} partition {partition} at offset {offset} from {}: {}",
            self.addr,
            error_name(response.error_code)
        );
        response
            .responses
            .into_iter()
            .filter(|t| t.topic.0.as_str() == topic)
            .flat_map(|t| t.partitions)
            .find(|p| p.partition_index == partition)
            .ok_or_else(|| {
                anyhow!(
                    "Fetch response from {} has no data for topic {topic:?} partition {partition}",
                    self.addr
                )
            })
    }
}
