"""A misbehaving peer: sends malformed frames, a wrong RPC version and a forged response, then exits.

Written against raw ZeroMQ on purpose: no container library would send these.
"""
import os
import struct

import zmq

context = zmq.Context()
sock = context.socket(zmq.DEALER)
sock.setsockopt(zmq.LINGER, 2000)
sock.connect("tcp://{}:{}".format(os.environ["CLIPPER_IP"], os.environ["CLIPPER_PORT"]))
u32 = lambda v: struct.pack("<I", v)
sock.send_multipart([b"junk"])
sock.send_multipart([b"", b"\x01\x02"])
sock.send_multipart([b"", u32(99)])
sock.send_multipart([b"", u32(0), os.environ["CLIPPER_MODEL_NAME"].encode(), b"1", b"3", u32(2)])
sock.send_multipart([b"", u32(1), u32(12345), struct.pack("<Q", 16), struct.pack("<QQ", 1, 2), b"hi"])
sock.send_multipart([b"", u32(1), u32(1), struct.pack("<Q", 999), b"short"])
sock.close()
context.term()
