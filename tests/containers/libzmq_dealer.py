"""A container as the original Clipper's containers are built: a libzmq DEALER (pyzmq), not our ZMTP code.

It follows the original container lifecycle (a heartbeat first, metadata when asked, one answer per
prediction request) and sums each input, so a test can check that such containers keep working against
the core's own ROUTER. The message layouts come from clipper_container.rpc; only the transport differs.
"""
import os

import zmq

from clipper_container import rpc

name, version = os.environ["CLIPPER_MODEL_NAME"], os.environ["CLIPPER_MODEL_VERSION"]
input_type = rpc.InputType[os.environ["CLIPPER_INPUT_TYPE"].upper()]
context = zmq.Context()
sock = context.socket(zmq.DEALER)
sock.connect("tcp://{}:{}".format(os.environ["CLIPPER_IP"], os.environ["CLIPPER_PORT"]))
sock.send_multipart(rpc.encode_heartbeat())
while True:
    message = rpc.decode_frontend_message(sock.recv_multipart())
    if isinstance(message, rpc.FrontendHeartbeat) and message.request_metadata:
        sock.send_multipart(rpc.encode_new_container(name, version, input_type))
    elif isinstance(message, rpc.PredictionRequest):
        sums = [str(float(x.sum())) for x in message.inputs]
        sock.send_multipart(rpc.encode_response(message.msg_id, sums))
