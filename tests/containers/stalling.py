"""A container that stalls mid-frame: it registers like any container, and on its first prediction request
writes half of its response's bytes, then sends nothing more until it is killed.

Written with the container library's ZMTP and RPC encoders so that all it gets wrong is the stall.
"""
import os
import time

from clipper_container import rpc, zmtp

name, version = os.environ["CLIPPER_MODEL_NAME"], os.environ["CLIPPER_MODEL_VERSION"]
input_type = rpc.InputType[os.environ["CLIPPER_INPUT_TYPE"].upper()]
dealer = zmtp.Dealer.connect(os.environ["CLIPPER_IP"], int(os.environ["CLIPPER_PORT"]), 10.0)
dealer.send(rpc.encode_heartbeat())
while True:
    frames = dealer.receive(1.0)
    if frames is None:
        continue
    message = rpc.decode_frontend_message(frames)
    if isinstance(message, rpc.FrontendHeartbeat) and message.request_metadata:
        dealer.send(rpc.encode_new_container(name, version, input_type))
    elif isinstance(message, rpc.PredictionRequest):
        wire = zmtp.encode(rpc.encode_response(message.msg_id, [str(float(x.sum())) for x in message.inputs]))
        dealer._sock.sendall(wire[: len(wire) // 2])
        break
while True:
    time.sleep(3600)
