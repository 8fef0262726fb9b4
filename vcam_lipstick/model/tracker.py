"""Acquire the mouth with the face detector, then track it with the lip network alone.

While lips are found, each frame's crop is placed from the previous frame's mask, so the
detector runs only to acquire (or re-check every few seconds). Masks are smoothed in crop space:
small frame-to-frame differences (sensor noise) are averaged away, large ones (the mouth moving)
are taken at once, so the mask neither flickers nor lags.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..processing.geometry import MouthBox, box_from_points, invert_affine
from .detector import Face, FaceDetector
from .segmenter import CropResult, LipMask, LipSegmenter, mouth_probability, paste

# Calibrated on the training faces: the lip box against RetinaFace's mouth corners.
CORNER_WIDTH_RATIO = 1.04
CORNER_CENTER_DROP = 0.10

# The detector's mouth corners understate open and turned mouths: the first crop gets more context.
ACQUIRE_CONTEXT = 1.3
# When that crop shows no lips (corners far off, e.g. on a yawn), retry with boxes sized from the face:
# mouths span 24-55% of the detector's face width on the training faces, median 40%.
ACQUIRE_RETRY_FACE_WIDTHS = (0.45, 0.8)
# Lips a retry crop finds may span at most this share of the face's width (training mouths: 24-55%).
# Wider ones are a small face's mouth and the skin around it taken together: a ring of lipstick.
RETRY_MAX_FACE_WIDTH = 0.6

REFINE_MAX_PASSES = 4
# A crop never magnifies a mouth narrower than this (frame pixels) to the usual 60% of its width:
# more zoom only blurs a tiny mouth away, and the network then loses it or takes its surroundings for lips.
MIN_CROP_MOUTH_PX = 16.0
MIN_MOUTH_PIXELS = 60  # crop pixels of mouth classes below which the mouth counts as lost
MOUTH_THRESHOLD = 0.5

# A frame whose mouth crop matches the crop the current mask came from keeps that mask: the network's
# answer would only be blended 15% of the way anyway (``blend_probs``). "Matches": every 5x5 patch of
# the crop differs by less than this (0-255, the largest channel), above sensor and codec noise; a finger
# or a moving lip changes patches by 20-100. Compared against the crop last segmented, not the previous
# frame, so slow change adds up and is segmented; and at most every REUSE_MAX_FRAMES-th frame is reused.
REUSE_MAX_PATCH_CHANGE = 9.0
REUSE_MAX_FRAMES = 8


def box_from_face(face: Face) -> MouthBox:
    """Initial mouth box from the detector's landmarks (mouth corners, eye line for the roll)."""
    lm = face.landmarks.astype(np.float64)
    left_eye, right_eye = sorted(lm[:2].tolist())
    a, b = sorted(lm[3:5].tolist())
    a, b = np.array(a), np.array(b)
    eye_angle = math.atan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0])
    mouth_angle = math.atan2(b[1] - a[1], b[0] - a[0])
    angle = math.atan2(math.sin(eye_angle) + math.sin(mouth_angle), math.cos(eye_angle) + math.cos(mouth_angle))
    width = max(4.0, float(np.linalg.norm(b - a)) * CORNER_WIDTH_RATIO)
    mid = (a + b) / 2.0
    drop = CORNER_CENTER_DROP * width
    return MouthBox(mid[0] - math.sin(angle) * drop, mid[1] + math.cos(angle) * drop, width, 0.42 * width, angle)


def acquisition_boxes(face: Face) -> list[MouthBox]:
    """Mouth boxes to try for a detected face, in order: from its mouth corners, then sized from its box."""
    box = box_from_face(face)
    face_width = face.box[2] - face.box[0]
    return [box.scaled(ACQUIRE_CONTEXT), *(box.scaled(f * face_width / box.width) for f in ACQUIRE_RETRY_FACE_WIDTHS)]


def mouth_fits_face(mouth: MouthBox, face: Face, max_width: float = 0.8) -> bool:
    """Lips found for a face lie in its lower part and are narrower than ``max_width`` of it (on the
    training faces: centre at 18-79% of the face box's width and 66-85% of its height, width <= 55%)."""
    x0, y0, x1, y1 = face.box
    w, h = x1 - x0, y1 - y0
    return (x0 + 0.05 * w <= mouth.cx <= x1 - 0.05 * w and y0 + 0.45 * h <= mouth.cy <= y1 + 0.15 * h
            and mouth.width <= max_width * w)


def mouth_covers(mouth: MouthBox, x: float, y: float) -> bool:
    """The mouth box, grown by a tenth of its width, holds the point (x, y)."""
    c, s = math.cos(mouth.angle), math.sin(mouth.angle)
    dx, dy = x - mouth.cx, y - mouth.cy
    margin = 0.1 * mouth.width
    return abs(dx * c + dy * s) <= mouth.width / 2 + margin and abs(-dx * s + dy * c) <= mouth.height / 2 + margin


def mouth_box_of(result: CropResult, previous_angle: float) -> MouthBox | None:
    """Box of the mouth pixels of a crop result, in frame pixels; None if too few (the mouth is lost)."""
    mouth = (mouth_probability(result.probs) > MOUTH_THRESHOLD).astype(np.uint8)
    points = cv2.findNonZero(mouth)
    if points is None or len(points) < MIN_MOUTH_PIXELS:
        return None
    points = points.reshape(-1, 2)  # (N, 1, 2) in OpenCV 4, (N, 2) in 5
    xs, ys = points[:, 0], points[:, 1]
    inv = invert_affine(result.matrix)
    fx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    fy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    # Roll from the lips' principal axis only when the mouth is clearly wider than tall.
    span_x, span_y = np.ptp(xs) + 1, np.ptp(ys) + 1
    hint = None if span_x > 1.6 * span_y else previous_angle
    return box_from_points(fx, fy, hint)


def crop_box(box: MouthBox) -> MouthBox:
    """The box to cut the network's crop from: the mouth's own, or wider for a tiny mouth."""
    return box if box.width >= MIN_CROP_MOUTH_PX else box.scaled(MIN_CROP_MOUTH_PX / max(box.width, 1.0))


def smooth_box(prev: MouthBox, new: MouthBox) -> MouthBox:
    """Heavy smoothing for sub-pixel jitter, none for real motion (a one-euro-like deadband)."""
    motion = math.hypot(new.cx - prev.cx, new.cy - prev.cy) / prev.width + abs(math.log(new.width / prev.width))
    a = min(1.0, 0.25 + 8.0 * motion)
    angle_delta = math.atan2(math.sin(new.angle - prev.angle), math.cos(new.angle - prev.angle))
    return MouthBox(
        prev.cx + a * (new.cx - prev.cx),
        prev.cy + a * (new.cy - prev.cy),
        prev.width * (new.width / prev.width) ** a,
        prev.height + a * (new.height - prev.height),
        prev.angle + min(1.0, a + 2.0 * abs(angle_delta)) * angle_delta,
    )


def blend_probs(prev: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Per pixel: average small differences (noise), take large ones (motion) as they are."""
    # Differences under 0.12 (sensor noise) move 15% of the way; over 0.52 (motion) all the way.
    # In place on one buffer: a third less time than the plain expression.
    change = new - prev
    w = np.abs(change)
    w -= 0.12
    w *= 1.0 / 0.4
    np.clip(w, 0.0, 1.0, out=w)
    w *= 0.85
    w += 0.15
    w *= change
    w += prev
    return w


@dataclass
class Track:
    box: MouthBox
    result: CropResult | None = None
    misses: int = 0
    reused: int = 0  # frames in a row that kept ``result``
    pasted: LipMask | None = None  # ``result`` in frame pixels, kept while it is reused


def crop_unchanged(crop: np.ndarray, previous: np.ndarray) -> bool:
    """No 5x5 patch of two same-geometry uint8 crops differs by REUSE_MAX_PATCH_CHANGE or more."""
    b, g, r = cv2.split(cv2.absdiff(crop, previous))
    change = cv2.max(cv2.max(b, g), r)  # the largest channel (numpy's max over a 3-wide axis: 15x slower)
    return float(cv2.blur(change, (5, 5)).max()) < REUSE_MAX_PATCH_CHANGE


@dataclass
class TrackerOptions:
    all_faces: bool = False
    redetect_every: int = 90  # frames between detector checks while tracking
    idle_detect_every: int = 5  # frames between detector runs while no face is seen
    smoothing: bool = True
    reuse_still_frames: bool = True  # skip the network when the mouth crop has not changed


@dataclass
class StageTimes:
    acquire: float = 0.0
    track: float = 0.0
    infer: float = 0.0
    paste: float = 0.0
    acquired: bool = False
    reused: int = 0  # mouths whose mask was kept because their crop did not change

    @property
    def total(self) -> float:
        return self.acquire + self.track + self.infer + self.paste


class LipTracker:
    """Stateful per video: ``process(frame)`` returns one ``LipMask`` per tracked mouth."""

    def __init__(self, detector: FaceDetector, segmenter: LipSegmenter, options: TrackerOptions | None = None):
        self.detector = detector
        self.segmenter = segmenter
        self.options = options or TrackerOptions()
        self.tracks: list[Track] = []
        self.frame_index = 0
        self.frames_without_face = 0
        self.times = StageTimes()

    def reset(self) -> None:
        self.tracks = []
        self.frame_index = 0
        self.frames_without_face = 0

    # -- acquisition -------------------------------------------------------------------------
    def _faces(self, frame: np.ndarray) -> list[Face]:
        faces = self.detector.detect(frame)
        return faces if self.options.all_faces else faces[:1]

    def _refine(self, frame: np.ndarray, box: MouthBox, still: bool = False) -> Track | None:
        """Segment from a rough box, re-centre on the found mouth and segment again, until the box
        settles (a crop that cut the mouth off finds a larger mouth the next time).

        For a still image every pass also averages with the mirrored crop."""
        result = None
        for i in range(REFINE_MAX_PASSES):
            t = time.perf_counter()
            result = self.segmenter.segment(frame, crop_box(box), flip_average=still)
            self.times.infer += time.perf_counter() - t
            found = mouth_box_of(result, box.angle)
            if found is None:
                return None
            shift = math.hypot(found.cx - box.cx, found.cy - box.cy) / box.width
            settled = shift < 0.1 and abs(math.log(found.width / box.width)) < 0.15
            box = found
            if i >= 1 and settled:
                break
        return Track(box, result)

    def _acquire_face(self, frame: np.ndarray, face: Face, still: bool = False) -> Track | None:
        boxes = acquisition_boxes(face)
        for i, box in enumerate(boxes):
            track = self._refine(frame, box, still=still)
            if track is None or not mouth_fits_face(track.box, face, 0.8 if i == 0 else RETRY_MAX_FACE_WIDTH):
                continue
            # The wide retry crops can take an edge (a covered mouth's, the chin) for lips: keep only
            # lips over the spot the mouth corners point at.
            if i > 0 and not mouth_covers(track.box, boxes[0].cx, boxes[0].cy):
                continue
            return track
        return None

    def _acquire(self, frame: np.ndarray, still: bool = False) -> list[Track]:
        t = time.perf_counter()
        faces = self._faces(frame)
        self.times.acquire += time.perf_counter() - t
        self.times.acquired = True
        tracks = [self._acquire_face(frame, f, still=still) for f in faces]
        return [tr for tr in tracks if tr is not None]

    def segment_image(self, frame: np.ndarray) -> list[LipMask]:
        """Stateless: find and segment mouths in one image (no tracking state used or kept)."""
        self.times = StageTimes()
        tracks = self._acquire(frame, still=True)
        return self._paste_all(tracks, frame.shape)

    # -- tracking ---------------------------------------------------------------------------
    def _reuse(self, frame: np.ndarray, track: Track) -> Track | None:
        """The track unchanged, if its crop, cut again from this frame, shows what it showed."""
        if (not self.options.reuse_still_frames or track.result is None or track.result.crop is None
                or track.misses or track.reused >= REUSE_MAX_FRAMES):
            return None
        t = time.perf_counter()
        crop = self.segmenter.cut(frame, track.result.matrix)
        same = crop_unchanged(crop, track.result.crop)
        self.times.track += time.perf_counter() - t
        if not same:
            return None
        self.times.reused += 1
        return Track(track.box, track.result, 0, track.reused + 1, track.pasted)

    def _step(self, frame: np.ndarray, track: Track) -> Track | None:
        kept = self._reuse(frame, track)
        if kept is not None:
            return kept
        t = time.perf_counter()
        result = self.segmenter.segment(frame, crop_box(track.box))
        self.times.infer += time.perf_counter() - t
        t = time.perf_counter()
        if self.options.smoothing and track.result is not None:
            # Bring the previous crop's probabilities into this crop, then blend.
            rel = result.matrix @ np.vstack([invert_affine(track.result.matrix), [0, 0, 1]])
            h, w, _ = result.probs.shape
            prev = cv2.warpAffine(track.result.probs, rel, (w, h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT)
            result.probs = blend_probs(prev, result.probs)
        found = mouth_box_of(result, track.box.angle)
        self.times.track += time.perf_counter() - t
        if found is None:
            track.misses += 1
            return track if track.misses < 2 else None
        box = smooth_box(track.box, found) if self.options.smoothing else found
        return Track(box, result, 0)

    @staticmethod
    def _overlaps(box: MouthBox, others: list[MouthBox]) -> bool:
        return any(math.hypot(box.cx - o.cx, box.cy - o.cy) < 0.6 * max(box.width, o.width) for o in others)

    def process(self, frame: np.ndarray) -> list[LipMask]:
        """Track mouths in the next video frame (BGR uint8, any size)."""
        self.times = StageTimes()
        self.frame_index += 1
        if not self.tracks:
            idle = self.frames_without_face >= 3
            if not idle or self.frame_index % self.options.idle_detect_every == 0:
                self.tracks = self._acquire(frame)
                self.frames_without_face = 0 if self.tracks else self.frames_without_face + 1
            return self._paste_all(self.tracks, frame.shape)
        tracks = [tr for tr in (self._step(frame, tr) for tr in self.tracks) if tr is not None]
        if self.frame_index % self.options.redetect_every == 0:
            tracks = self._recheck(frame, tracks)
        self.tracks = tracks
        return self._paste_all([t for t in tracks if t.misses == 0], frame.shape)

    def _recheck(self, frame: np.ndarray, tracks: list[Track]) -> list[Track]:
        """Periodic detector pass: drop tracks that left every detected face, pick up new faces."""
        t = time.perf_counter()
        faces = self._faces(frame)
        self.times.acquire += time.perf_counter() - t
        self.times.acquired = True
        boxes = [box_from_face(f) for f in faces]
        if not boxes:
            return tracks  # a detector miss (blur, a turned head) is likelier than lips on a non-face
        kept = [tr for tr in tracks if self._overlaps(tr.box, boxes)]
        for face, box in zip(faces, boxes):
            if not self._overlaps(box, [tr.box for tr in kept]):
                new = self._acquire_face(frame, face)
                if new is not None:
                    kept.append(new)
        return kept if self.options.all_faces else kept[:1]

    def _paste_all(self, tracks: list[Track], shape) -> list[LipMask]:
        t = time.perf_counter()
        masks = []
        for tr in tracks:
            if tr.result is None:
                continue
            if tr.pasted is None or not tr.reused:
                tr.pasted = paste(tr.result, shape)
            if tr.pasted is not None:
                masks.append(tr.pasted)
        self.times.paste += time.perf_counter() - t
        return masks
