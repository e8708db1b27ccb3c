"""Fake-camera clips for the door scanner tests (from shared/recipes/qr_camera_fixtures.py).

Chromium plays a Y4M file as its camera with
  --use-fake-ui-for-media-stream --use-fake-device-for-media-stream --use-file-for-fake-video-capture=F
and loops it, so one frame is enough. The frame here is made from the pass's own QR PNG, as served
by GET /api/v1/bookings/{id}/qr.png, placed on a grey scene like a phone screen held up to a camera.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


def camera_frame(
    qr: Image.Image,
    width: int = 640,
    height: int = 480,
    qr_px: int = 320,
    background: tuple[int, int, int] = (200, 200, 200),
) -> Image.Image:
    frame = Image.new("RGB", (width, height), background)
    q = qr.convert("RGB").resize((qr_px, qr_px), Image.Resampling.NEAREST)
    frame.paste(q, ((width - q.width) // 2, (height - q.height) // 2))
    return frame


def write_y4m(frames: list[Image.Image], path: Path, fps: int = 30) -> Path:
    """RGB frames as a 4:2:0 Y4M file (full-range 'C420jpeg', Pillow's YCbCr)."""
    w, h = frames[0].size
    assert w % 2 == 0 and h % 2 == 0, "4:2:0 needs even dimensions"
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for im in frames:
            y, cb, cr = im.convert("RGB").convert("YCbCr").split()
            f.write(b"FRAME\n")
            f.write(y.tobytes())
            f.write(cb.resize((w // 2, h // 2), Image.Resampling.BOX).tobytes())
            f.write(cr.resize((w // 2, h // 2), Image.Resampling.BOX).tobytes())
    return path


def clip_from_png(png: bytes, path: Path) -> Path:
    """A one-frame camera clip showing this QR PNG."""
    return write_y4m([camera_frame(Image.open(io.BytesIO(png)))], path)


def camera_args(y4m: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",  # accept the camera prompt
        "--use-fake-device-for-media-stream",  # a fake camera instead of /dev/video*
        f"--use-file-for-fake-video-capture={y4m}",  # ...that loops this clip
    ]
