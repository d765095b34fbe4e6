"""A container as the original Clipper's containers are built: a libzmq DEALER (pyzmq), not our ZMTP code.

It follows the original container lifecycle (a heartbeat first, metadata when asked, one answer per
prediction request) and sums each input, so a test can check that such containers keep working against
the core's own ROUTER. The message layouts come from clipper_container.rpc; only the transport differs.

An optional first argument sets the socket's routing identity. A connection the frontend closes before
sending anything (it refuses an identity in use) makes the container exit with status 3, since libzmq
itself would only retry.
"""
import os
import sys

import zmq
from zmq.utils.monitor import recv_monitor_message

from clipper_container import rpc

REFUSED = 3

name, version = os.environ["CLIPPER_MODEL_NAME"], os.environ["CLIPPER_MODEL_VERSION"]
input_type = rpc.InputType[os.environ["CLIPPER_INPUT_TYPE"].upper()]
context = zmq.Context()
sock = context.socket(zmq.DEALER)
if len(sys.argv) > 1:
    sock.setsockopt(zmq.IDENTITY, sys.argv[1].encode())
monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
sock.connect("tcp://{}:{}".format(os.environ["CLIPPER_IP"], os.environ["CLIPPER_PORT"]))
sock.send_multipart(rpc.encode_heartbeat())
poller = zmq.Poller()
poller.register(sock, zmq.POLLIN)
poller.register(monitor, zmq.POLLIN)
heard = False
while True:
    ready = dict(poller.poll())
    if monitor in ready and recv_monitor_message(monitor)["event"] == zmq.EVENT_DISCONNECTED and not heard:
        print("libzmq_dealer: the frontend closed the connection before answering", file=sys.stderr)
        sys.exit(REFUSED)
    if sock not in ready:
        continue
    heard = True
    message = rpc.decode_frontend_message(sock.recv_multipart())
    if isinstance(message, rpc.FrontendHeartbeat) and message.request_metadata:
        sock.send_multipart(rpc.encode_new_container(name, version, input_type))
    elif isinstance(message, rpc.PredictionRequest):
        sums = [str(float(x.sum())) for x in message.inputs]
        sock.send_multipart(rpc.encode_response(message.msg_id, sums))
