//! RPC with model containers: the Clipper v3 codec. The socket itself lives in `runtime`, which owns the
//! one thread allowed to touch it; this module must stay free of I/O so it can be tested byte for byte.

pub mod codec;

pub use codec::{
    decode_container_message, encode_heartbeat, encode_prediction_request, ContainerMessage,
    DecodeError, Frame, HeartbeatKind, InputType, RPC_VERSION,
};
