//! Calls to a plugin's `Provider` service, in protocol 6 or 5.
//!
//! Both protocols' calls are made with protocol 6's message types: `build.rs` proves
//! that their wire forms agree for every call terrane makes (only the schema differs,
//! and [`Rpc::get_schema`] reads protocol 5's with its own types). The method names
//! that differ between the versions are mapped here.

use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::Status;

use crate::proto::tfplugin6 as v6;

/// One unary gRPC call on `path`.
pub async fn call_path<Req, Resp>(channel: &Channel, path: &str, req: Req) -> Result<Resp, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel.clone())
        // A large provider's schema is tens of megabytes; Terraform allows 256 MB.
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(256 << 20);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("the plugin is not reachable: {e}")))?;
    let path = PathAndQuery::try_from(path).map_err(|e| Status::internal(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(tonic::Request::new(req), path, codec)
        .await
        .map(tonic::Response::into_inner)
}

/// The `Provider` service of one plugin.
#[derive(Clone)]
pub struct Rpc {
    channel: Channel,
    /// 5 or 6.
    pub protocol: u32,
}

impl Rpc {
    pub fn new(channel: Channel, protocol: u32) -> Rpc {
        Rpc { channel, protocol }
    }

    /// Calls the protocol 6 method `method` (or its protocol 5 name).
    pub async fn call<Req, Resp>(&self, method: &str, req: Req) -> Result<Resp, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let path = if self.protocol == 5 {
            let m = match method {
                "GetProviderSchema" => "GetSchema",
                "ValidateProviderConfig" => "PrepareProviderConfig",
                "ValidateResourceConfig" => "ValidateResourceTypeConfig",
                "ValidateDataResourceConfig" => "ValidateDataSourceConfig",
                "ConfigureProvider" => "Configure",
                "StopProvider" => "Stop",
                other => other,
            };
            format!("/tfplugin5.Provider/{m}")
        } else {
            format!("/tfplugin6.Provider/{method}")
        };
        call_path(&self.channel, &path, req).await
    }

    /// The provider's schemas, as protocol 6 messages whatever the protocol.
    pub async fn get_schema(&self) -> Result<v6::get_provider_schema::Response, Status> {
        if self.protocol == 5 {
            use crate::proto::tfplugin5 as v5;
            let r: v5::get_provider_schema::Response = call_path(
                &self.channel,
                "/tfplugin5.Provider/GetSchema",
                v5::get_provider_schema::Request {},
            )
            .await?;
            return Ok(crate::schema::response_from_v5(r));
        }
        self.call("GetProviderSchema", v6::get_provider_schema::Request {})
            .await
    }
}
