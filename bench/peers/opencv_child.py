"""Peers child: OpenCV DNN from Python (Debian python3-opencv, /usr/bin/python3), as its users write it.

Settings from PEERS_* variables (bench/peers/child-protocol.ts); prints one {"event": ...} JSON line
per milestone: `first` once the network is read, then `runs` (or `error`). Started by
bench/sections/peers.ts.

classification: cv2.imdecode (BGR) -> resize the shorter side to 256 (INTER_LINEAR) -> centre crop
224 -> blobFromImage(1/255, swapRB) -> (x - mean) / std in numpy (4.6's blobFromImage has no std)
-> net.forward -> softmax -> top-5 labels.
detection (YOLOv4, NHWC 416): cv2.imdecode -> letterbox (INTER_LINEAR, centred, pad 128) -> RGB,
/255 as a [1,416,416,3] float32 array -> net.forward(all outputs) -> numpy decode of the three heads
(the manifest's anchors, strides, scaleXY; scores already activated) -> boxes back to the photo ->
cv2.dnn.NMSBoxes per class (class offsets, the usual 4.x idiom) -> at most maxDetections.
"""

import json
import os
import sys
import time

STARTED = time.perf_counter()


def emit(event, **data):
    sys.stdout.write(json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


def main():
    import numpy as np
    import cv2

    task = os.environ["PEERS_TASK"]
    image_file = os.environ["PEERS_IMAGE"]
    model = os.environ["PEERS_MODEL"]
    threads = int(os.environ["PEERS_THREADS"])
    warm_up = int(os.environ["PEERS_WARMUP"])
    runs = int(os.environ["PEERS_RUNS"])

    cv2.setNumThreads(threads)
    with open(image_file, "rb") as f:
        data = f.read()
    net = cv2.dnn.readNetFromONNX(model)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    out_names = net.getUnconnectedOutLayersNames()
    emit("first", loadMs=round((time.perf_counter() - STARTED) * 1000), cv2=cv2.__version__,
         threads=cv2.getNumThreads(), outputs=list(out_names))

    if task == "classification":
        with open(os.environ["PEERS_LABELS"], encoding="utf8") as f:
            labels = [line.strip() for line in f if line.strip()]
        mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
        std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)

        def once():
            t = time.perf_counter()
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            h, w = img.shape[:2]
            s = 256 / min(h, w)
            nw, nh = max(256, round(w * s)), max(256, round(h * s))
            img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
            y, x = (nh - 224) // 2, (nw - 224) // 2
            crop = img[y:y + 224, x:x + 224]
            blob = cv2.dnn.blobFromImage(crop, 1 / 255, (224, 224), (0, 0, 0), swapRB=True, crop=False)
            blob = (blob - mean) / std
            net.setInput(blob)
            ti = time.perf_counter()
            logits = net.forward().reshape(-1)
            inference = time.perf_counter() - ti
            e = np.exp(logits - logits.max())
            p = e / e.sum()
            top = np.argpartition(-p, 5)[:5]
            top = top[np.argsort(-p[top])]
            answer = [labels[i] for i in top]
            return (time.perf_counter() - t) * 1000, inference * 1000, answer

    else:
        yolo = json.loads(os.environ["PEERS_YOLO"])
        size = yolo["size"]
        pad = yolo["padValue"]
        threshold = yolo["scoreThreshold"]
        iou = yolo["iouThreshold"]
        max_det = yolo["maxDetections"]
        heads = {h["grid"]: h for h in yolo["heads"]}

        def sigmoid(v):
            return 1 / (1 + np.exp(-v))

        def once():
            t = time.perf_counter()
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            h, w = img.shape[:2]
            s = min(size / w, size / h)
            nw, nh = round(w * s), round(h * s)
            resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
            top, left = (size - nh) // 2, (size - nw) // 2
            canvas = np.full((size, size, 3), pad, np.uint8)
            canvas[top:top + nh, left:left + nw] = resized
            rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
            blob = rgb[None].astype(np.float32) * np.float32(1 / 255)
            net.setInput(blob)
            ti = time.perf_counter()
            outs = net.forward(out_names)
            inference = time.perf_counter() - ti
            boxes, scores, classes = [], [], []
            candidates = 0
            for out in outs:
                a = len(next(iter(heads.values()))["anchors"])
                grid = round((out.size / (a * (5 + yolo["numClasses"]))) ** 0.5)
                head = heads[grid]
                o = out.reshape(grid, grid, a, 5 + yolo["numClasses"])
                cls = o[..., 5:].argmax(-1)
                score = o[..., 4] * np.take_along_axis(o[..., 5:], cls[..., None], -1)[..., 0]
                keep = (o[..., 4] >= threshold) & (score >= threshold)
                gy, gx, ai = np.nonzero(keep)
                if gy.size == 0:
                    continue
                candidates += int(gy.size)
                v = o[gy, gx, ai]
                sxy = head["scaleXY"]
                off = 0.5 * (sxy - 1)
                anchors = np.array(head["anchors"], np.float32)[ai]
                cx = (sigmoid(v[:, 0]) * sxy - off + gx) * head["stride"]
                cy = (sigmoid(v[:, 1]) * sxy - off + gy) * head["stride"]
                bw = np.exp(v[:, 2]) * anchors[:, 0]
                bh = np.exp(v[:, 3]) * anchors[:, 1]
                # Back from the letterboxed input to the photo.
                x1 = np.clip((cx - bw / 2 - left) / s, 0, w)
                y1 = np.clip((cy - bh / 2 - top) / s, 0, h)
                x2 = np.clip((cx + bw / 2 - left) / s, 0, w)
                y2 = np.clip((cy + bh / 2 - top) / s, 0, h)
                boxes.append(np.stack([x1, y1, x2 - x1, y2 - y1], -1))
                scores.append(score[gy, gx, ai])
                classes.append(cls[gy, gx, ai])
            detections = 0
            if boxes:
                b = np.concatenate(boxes)
                sc = np.concatenate(scores).astype(np.float32)
                c = np.concatenate(classes)
                # Per-class NMS in one call: each class's boxes moved apart by more than the photo.
                shifted = b.copy()
                shifted[:, 0] += c * (max(w, h) + 1)
                kept = cv2.dnn.NMSBoxes(shifted.tolist(), sc.tolist(), threshold, iou)
                detections = min(len(kept), max_det)
            return (time.perf_counter() - t) * 1000, inference * 1000, {
                "detections": detections, "candidates": candidates}

    for _ in range(warm_up):
        once()
    e2e, inference, answer = [], [], None
    for _ in range(runs):
        a, b, answer = once()
        e2e.append(a)
        inference.append(b)
    emit("runs", e2eMs=e2e, inferenceMs=inference, answer=answer)


try:
    main()
except Exception as e:  # noqa: BLE001 - reported to the parent as the row's error
    emit("error", message=f"{type(e).__name__}: {e}".strip())
    sys.exit(1)
