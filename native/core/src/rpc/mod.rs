//! RPC with model containers: the Clipper v3 codec and the ZMTP 3 framing under it. The socket itself
//! lives in `runtime::router`, on the core thread; this module must stay free of I/O so it can be tested
//! byte for byte.

pub mod codec;
pub mod zmtp;

pub use codec::{
    decode_container_message, encode_heartbeat, encode_prediction_request, Announcement,
    ContainerMessage, DecodeError, Frame, HeartbeatKind, InputType, RPC_VERSION,
};
