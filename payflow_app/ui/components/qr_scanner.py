"""The gate's camera: a QR scanner wrapping ``@yudiel/react-qr-scanner``. It reads the
rear camera and hands the text of each newly seen code to the page's state.

The library does the decoding. It always uses the ``barcode-detector`` ponyfill (ZXing
compiled to WebAssembly), even where the browser has a native BarcodeDetector. By
default the ponyfill fetches its ``.wasm`` from a public CDN the first time it is used.
A gate without internet would then never read a ticket. So the page points the ponyfill
at the copy of the file that Vite bundles from ``zxing-wasm``, which our own server
serves."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.components.component import field

# These three versions move together. barcode-detector 3.2.2 inlines the JavaScript of
# zxing-wasm 3.1.3, and the .wasm we serve must come from that same release. Pinning
# barcode-detector also stops npm from resolving the scanner's ``^3.1.3`` to a newer one.
_SCANNER = "@yudiel/react-qr-scanner@2.6.0"
_DETECTOR = "barcode-detector@3.2.2"
_ZXING = "zxing-wasm@3.1.3"

_WASM_URL = "zxingReaderWasmUrl"

# The rear camera. Only ideal sizes are given: these replace the library's default
# 640-pixel minimums, which refuse any camera (or test video) smaller than that.
_REAR_CAMERA = {"facingMode": "environment", "width": {"ideal": 720}, "height": {"ideal": 720}}


def _first_code_text(codes: rx.Var[list[dict[str, Any]]]) -> tuple[rx.Var[str]]:
    """onScan gets every code in the frame; the gate checks in one ticket at a time."""
    return (codes[0]["rawValue"].to(str),)


def _error_message(error: rx.Var[dict[str, Any]]) -> tuple[rx.Var[str]]:
    """The browser's message, or the library's error kind (``overconstrained``,
    ``permission-denied``, ...) when the message is empty, as it is for some errors."""
    return (error["message"].to(str) | error["kind"].to(str),)


class QrScanner(rx.Component):
    """The library's ``Scanner``: the camera's picture with a finder overlay.

    A plain Component, not a NoSSRComponent: the library prerenders without touching
    the camera (checked with renderToString), and a static import is what lets the
    page set up the wasm before the scanner first renders."""

    library = _SCANNER
    tag = "Scanner"
    lib_dependencies: list[str] = [_DETECTOR]

    paused: rx.Var[bool] = field(doc="Stops the camera and keeps its last frame on screen.")
    constraints: rx.Var[dict[str, Any]] = field(doc="The camera's MediaTrackConstraints.")
    formats: rx.Var[list[str]] = field(doc="The BarcodeDetector format names to look for.")
    sound: rx.Var[bool] = field(doc="Beep on each new code (the library's default).")

    @classmethod
    def get_event_triggers(cls) -> dict[str, Any]:
        """``on_scan``: the text of a code that was not in the previous frame.
        ``on_error``: the camera did not start (no permission, no camera, not HTTPS)
        or decoding failed.

        Declared here rather than as ``rx.EventHandler[spec]`` fields, which Reflex
        reads the same way but mypy rejects."""
        return super().get_event_triggers() | {
            "on_scan": _first_code_text,
            "on_error": _error_message,
        }

    def add_imports(self) -> rx.ImportDict:
        return {
            _SCANNER: rx.ImportVar(tag="setZXingModuleOverrides"),
            # Vite's ``?url`` copies the file into the build and gives its URL.
            _ZXING: rx.ImportVar(
                tag=_WASM_URL, is_default=True, package_path="/reader/zxing_reader.wasm?url"
            ),
        }

    def add_custom_code(self) -> list[str]:
        # At module level, so it runs before the Scanner's first render. That render
        # creates the detector, and creating the detector loads the wasm.
        return [
            "setZXingModuleOverrides({ locateFile: (file, prefix) =>"
            f' file.endsWith(".wasm") ? {_WASM_URL} : prefix + file }});'
        ]


def qr_scanner(
    *,
    on_scan: Any,
    on_error: Any,
    paused: rx.Var[bool] | bool = False,
    **props: Any,
) -> rx.Component:
    """The rear camera, reading QR codes only. ``on_scan`` receives the code's text and
    ``on_error`` a message. Keep ``paused`` true while a scanned ticket is being checked
    in: the same code fires again only after a pause, or after another code was seen."""
    return QrScanner.create(
        on_scan=on_scan,
        on_error=on_error,
        paused=paused,
        constraints=_REAR_CAMERA,
        formats=["qr_code"],
        **props,
    )
