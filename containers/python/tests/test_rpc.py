"""Byte-exact vectors for every RPC v3 message, written out by hand rather than with the codec."""

import numpy as np
import pytest

from clipper_container import rpc
from clipper_container.rpc import InputType


def u64(v):
    return v.to_bytes(8, "little")


def test_container_heartbeat_is_a_delimiter_and_type_2():
    assert rpc.encode_heartbeat() == [b"", b"\x02\x00\x00\x00"]


def test_new_container_carries_name_version_decimal_input_type_and_rpc_version_3():
    assert rpc.encode_new_container("sum", "v1", InputType.STRINGS) == [
        b"", b"\x00\x00\x00\x00", b"sum", b"v1", b"4", b"\x03\x00\x00\x00",
    ]


def test_new_container_names_the_replica_number_in_a_last_frame_only_when_it_has_one():
    assert rpc.encode_new_container("sum", "v1", InputType.DOUBLES, 258)[-2:] == [b"\x03\x00\x00\x00", b"\x02\x01\x00\x00"]
    assert rpc.decode_container_message(rpc.encode_new_container("m", "1", InputType.INTS, 2)) == rpc.NewContainer(
        "m", "1", InputType.INTS, 3, 2
    )


def test_response_echoes_the_message_id_and_counts_utf8_bytes_not_characters():
    frames = rpc.encode_response(b"\x07\x00\x00\x00", ["ok", "é"])
    header = u64(2) + u64(2) + u64(2)
    assert frames == [b"", b"\x01\x00\x00\x00", b"\x07\x00\x00\x00", u64(24), header, b"ok", b"\xc3\xa9"]


def test_response_to_an_empty_batch_has_a_header_of_just_the_count():
    assert rpc.encode_response(b"\x01\x00\x00\x00", []) == [b"", b"\x01\x00\x00\x00", b"\x01\x00\x00\x00", u64(8), u64(0)]


def test_batch_error_echoes_the_message_id_and_carries_the_message_as_utf8():
    frames = rpc.encode_batch_error(b"\x09\x00\x00\x00", "boom é")
    assert frames == [b"", b"\x03\x00\x00\x00", b"\x09\x00\x00\x00", "boom é".encode()]


def test_frontend_heartbeat_asking_for_metadata_has_the_original_layout():
    frames = rpc.encode_frontend_heartbeat(request_metadata=True)
    assert frames == [b"", b"\x03\x00\x00\x00", b"\x02\x00\x00\x00", b"\x01\x00\x00\x00"]


def test_prediction_request_carries_type_count_and_sizes_in_its_header():
    frames = rpc.encode_prediction_request(7, InputType.INTS, [b"\x01\x00\x00\x00\x02\x00\x00\x00", b"\x09\x00\x00\x00"])
    assert frames == [
        b"", b"\x03\x00\x00\x00", b"\x01\x00\x00\x00", b"\x07\x00\x00\x00", b"\x00\x00\x00\x00",
        u64(32), u64(1) + u64(2) + u64(8) + u64(4),
        b"\x01\x00\x00\x00\x02\x00\x00\x00", b"\x09\x00\x00\x00",
    ]


def request(input_type, inputs, msg_id=b"\x05\x00\x00\x00"):
    header = u64(input_type) + u64(len(inputs)) + b"".join(u64(len(i)) for i in inputs)
    return [b"", b"\x03\x00\x00\x00", b"\x01\x00\x00\x00", msg_id, b"\x00\x00\x00\x00", u64(len(header)), header, *inputs]


@pytest.mark.parametrize(
    "input_type, wire, dtype, values",
    [
        (1, b"\x01\x00\x00\x00\xff\xff\xff\xff", np.int32, [1, -1]),
        (2, b"\x00\x00\xc0\x3f", np.float32, [1.5]),
        (3, b"\x00\x00\x00\x00\x00\x00\x04\xc0", np.float64, [-2.5]),
    ],
)
def test_numeric_inputs_decode_to_little_endian_arrays_of_the_right_dtype(input_type, wire, dtype, values):
    message = rpc.decode_frontend_message(request(input_type, [wire]))
    assert message.msg_id == b"\x05\x00\x00\x00"
    assert message.input_type == input_type
    [array] = message.inputs
    assert array.dtype == dtype and array.tolist() == values


def test_bytes_and_string_inputs_decode_to_bytes_and_str():
    assert rpc.decode_frontend_message(request(0, [b"\x00\xff", b""])).inputs == [b"\x00\xff", b""]
    assert rpc.decode_frontend_message(request(4, ["héllo".encode(), b"x"])).inputs == ["héllo", "x"]


def test_frontend_heartbeats_say_whether_metadata_is_wanted():
    keep_alive = [b"", b"\x03\x00\x00\x00", b"\x02\x00\x00\x00", b"\x00\x00\x00\x00"]
    assert rpc.decode_frontend_message(keep_alive) == rpc.FrontendHeartbeat(request_metadata=False)
    assert rpc.decode_frontend_message(rpc.encode_frontend_heartbeat(True)) == rpc.FrontendHeartbeat(request_metadata=True)


def test_feedback_requests_decode_without_inputs():
    frames = [b"", b"\x03\x00\x00\x00", b"\x01\x00\x00\x00", b"\x08\x00\x00\x00", b"\x01\x00\x00\x00"]
    assert rpc.decode_frontend_message(frames) == rpc.Feedback(b"\x08\x00\x00\x00")


def test_another_rpc_version_is_a_version_mismatch_naming_it():
    with pytest.raises(rpc.VersionMismatch, match="RPC version 2"):
        rpc.decode_frontend_message([b"", b"\x02\x00\x00\x00", b"\x02\x00\x00\x00", b"\x01\x00\x00\x00"])


@pytest.mark.parametrize(
    "frames",
    [
        [],
        [b"x"],
        [b"", b"\x03\x00"],
        [b"", b"\x03\x00\x00\x00", b"\x09\x00\x00\x00"],
        [b"", b"\x03\x00\x00\x00", b"\x01\x00\x00\x00", b"\x05\x00"],
    ],
)
def test_garbage_frames_are_protocol_errors_without_a_message_id(frames):
    with pytest.raises(rpc.ProtocolError) as caught:
        rpc.decode_frontend_message(frames)
    assert caught.value.msg_id is None


@pytest.mark.parametrize(
    "frames, reason",
    [
        (request(1, [b"\x01\x00\x00"]), "not a whole number of ints"),
        (request(4, [b"\xff\xfe"]), "not UTF-8"),
        (request(9, [b""]), "unknown input type 9"),
        (request(3, [b"\x00" * 8])[:-1], "1 inputs with 1 sizes but 0 frames"),
        (request(0, [b"ab"])[:-1] + [b"abc"], "input 0 has 3 bytes but the header announces 2"),
    ],
)
def test_malformed_prediction_requests_keep_their_message_id_so_they_can_be_answered(frames, reason):
    with pytest.raises(rpc.ProtocolError, match=reason) as caught:
        rpc.decode_frontend_message(frames)
    assert caught.value.msg_id == b"\x05\x00\x00\x00"


def test_container_messages_decode_back_to_what_was_encoded():
    decode = rpc.decode_container_message
    assert decode(rpc.encode_heartbeat()) == rpc.Heartbeat()
    assert decode(rpc.encode_new_container("m", "1", InputType.BYTES)) == rpc.NewContainer("m", "1", InputType.BYTES, 3)
    assert decode(rpc.encode_response(b"\x01\x00\x00\x00", ["a", "bé"])) == rpc.Response(b"\x01\x00\x00\x00", ["a", "bé"])
    assert decode(rpc.encode_batch_error(b"\x02\x00\x00\x00", "no")) == rpc.BatchError(b"\x02\x00\x00\x00", "no")


def test_a_response_whose_outputs_disagree_with_its_header_is_rejected():
    frames = rpc.encode_response(b"\x01\x00\x00\x00", ["ok", "yes"])
    with pytest.raises(rpc.ProtocolError, match="does not match"):
        rpc.decode_container_message(frames[:-1])
    with pytest.raises(rpc.ProtocolError, match="output 1 has 2 bytes"):
        rpc.decode_container_message(frames[:-1] + [b"no"])
