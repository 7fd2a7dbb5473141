"""Shared bits of the peer smoke tests: the emulator helper from tests/conformance."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
