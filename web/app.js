// Image recognition page: plain JavaScript, no build step, no dependencies. Works under the CSP
// `default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'`:
// no inline scripts, handlers or style attributes (styles set through the CSSOM are allowed).
(function () {
  'use strict';

  /** Longest side, in pixels, of the image the page uploads. */
  var MAX_SIDE = 1600;
  var JPEG_QUALITY = 0.9;
  /** Re-encode with lower quality while the JPEG is larger than this (the server takes 4.5 MB). */
  var SOFT_MAX_BYTES = 1400 * 1000;
  var FALLBACK_QUALITIES = [0.8, 0.7, 0.6];
  /** Types the server accepts and the page may send unchanged when they are small enough. */
  var PASS_THROUGH_TYPES = ['image/jpeg', 'image/png', 'image/webp'];
  var TOP_K = 5;
  /** The detector is asked for everything above this so that the slider can filter client-side. */
  var DETECTOR_MIN_CONFIDENCE = 0.05;
  var REQUEST_TIMEOUT_MS = 60000;

  var HEADLINES = {
    INVALID_REQUEST: 'The request was not accepted',
    INVALID_PARAMETER: 'A setting was not accepted',
    NOT_FOUND: 'Not found',
    METHOD_NOT_ALLOWED: 'The server refused this kind of request',
    PAYLOAD_TOO_LARGE: 'The image is too large',
    UNSUPPORTED_MEDIA_TYPE: 'That file is not a supported image',
    UNPROCESSABLE_IMAGE: 'The image could not be read',
    MODEL_UNAVAILABLE: 'The model is not available right now',
    OVERLOADED: 'The server is busy',
    TIMEOUT: 'The server took too long',
    INTERNAL: 'Something went wrong on the server',
  };

  var HINTS = {
    PAYLOAD_TOO_LARGE: 'Try a smaller photo or a screenshot of it.',
    UNSUPPORTED_MEDIA_TYPE: 'Choose a JPEG, PNG, WebP, GIF, AVIF or TIFF image.',
    UNPROCESSABLE_IMAGE: 'The file may be damaged or truncated. Try another photo.',
    MODEL_UNAVAILABLE: 'Choose another model or try again in a minute.',
    OVERLOADED: 'Wait a few seconds and press Send again.',
    TIMEOUT: 'Wait a few seconds and press Send again.',
    INTERNAL: 'Try again. If it keeps happening, report the reference below.',
  };

  var $ = function (id) {
    return document.getElementById(id);
  };

  var el = {
    dropzone: $('dropzone'),
    dropzoneTitle: $('dropzone-title'),
    file: $('file'),
    cameraButton: $('camera-button'),
    camera: $('camera'),
    preview: $('preview'),
    previewImage: $('preview-image'),
    previewCaption: $('preview-caption'),
    overlay: $('overlay'),
    noPreview: $('no-preview'),
    sizes: $('sizes'),
    sizeOriginal: $('size-original'),
    sizeSent: $('size-sent'),
    form: $('options'),
    model: $('model'),
    modelDescription: $('model-description'),
    send: $('send'),
    sendHint: $('send-hint'),
    error: $('error'),
    results: $('results'),
    resultsEmpty: $('results-empty'),
    classification: $('classification'),
    topLabel: $('top-label'),
    topProbability: $('top-probability'),
    predictions: $('predictions'),
    detection: $('detection'),
    threshold: $('threshold'),
    thresholdValue: $('threshold-value'),
    detectionSummary: $('detection-summary'),
    detections: $('detections'),
    timings: $('timings'),
  };

  var state = {
    config: { apiBaseUrl: '', apiKey: '' },
    models: null, // null: not loaded (or failed); otherwise the server's list
    prepared: null, // { blob, original, sent, decoded, resized }
    previewUrl: null,
    detections: [],
    colours: {},
    busy: false,
    selectionId: 0,
  };

  // ---------------------------------------------------------------------------------------------
  // Formatting helpers

  function formatBytes(n) {
    if (n < 1000) return n + (n === 1 ? ' byte' : ' bytes');
    if (n < 1000 * 1000) return (n / 1000).toFixed(n < 10000 ? 1 : 0) + ' kB';
    return (n / 1000 / 1000).toFixed(n < 10 * 1000 * 1000 ? 2 : 1) + ' MB';
  }

  function formatInt(n) {
    return Math.round(n).toLocaleString('en-US');
  }

  function formatPercent(p) {
    var v = p * 100;
    return (v >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1)) + '%';
  }

  function formatType(type) {
    if (!type) return 'unknown type';
    var short = { 'image/jpeg': 'JPEG', 'image/png': 'PNG', 'image/webp': 'WebP', 'image/gif': 'GIF' };
    return short[type] || type;
  }

  function describeSize(info) {
    var parts = [];
    if (info.width && info.height) parts.push(formatInt(info.width) + ' × ' + formatInt(info.height) + ' px');
    parts.push(
      formatBytes(info.bytes) + (info.bytes >= 1000 ? ' (' + formatInt(info.bytes) + ' bytes)' : ''),
    );
    parts.push(formatType(info.type));
    return parts.join(', ');
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // ---------------------------------------------------------------------------------------------
  // Configuration and API access

  function apiUrl(path) {
    var base = state.config.apiBaseUrl;
    if (!base) return path; // relative: works at / and at /classifier.html behind CloudFront
    return base.replace(/\/+$/, '') + '/' + path;
  }

  function apiHeaders(extra) {
    var headers = {};
    if (state.config.apiKey) headers['x-api-key'] = state.config.apiKey;
    for (var k in extra) if (Object.prototype.hasOwnProperty.call(extra, k)) headers[k] = extra[k];
    return headers;
  }

  function loadConfig() {
    return fetch('config.json', { cache: 'no-store', credentials: 'same-origin' })
      .then(function (res) {
        if (!res.ok) return null;
        return res.json().catch(function () {
          return null;
        });
      })
      .catch(function () {
        return null;
      })
      .then(function (json) {
        if (json && typeof json === 'object') {
          if (typeof json.apiBaseUrl === 'string') state.config.apiBaseUrl = json.apiBaseUrl.trim();
          if (typeof json.apiKey === 'string') state.config.apiKey = json.apiKey;
        }
      });
  }

  /** A fetch that rejects with an ApiError carrying a human headline and message. */
  function apiFetch(path, init) {
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = controller
      ? setTimeout(function () {
          controller.abort();
        }, REQUEST_TIMEOUT_MS)
      : null;
    if (controller) init.signal = controller.signal;
    return fetch(apiUrl(path), init)
      .then(
        function (res) {
          return res
            .text()
            .catch(function () {
              return ''; // the connection broke while reading: judged by the status below
            })
            .then(function (text) {
              return { res: res, text: text };
            });
        },
        function (err) {
          if (err && err.name === 'AbortError') {
            throw apiError(
              'The server took too long',
              'No answer after ' + REQUEST_TIMEOUT_MS / 1000 + ' seconds. Try again in a moment.',
            );
          }
          throw apiError(
            'Could not reach the server',
            'Check your internet connection and try again.' +
              (state.config.apiBaseUrl ? ' (API: ' + state.config.apiBaseUrl + ')' : ''),
          );
        },
      )
      .then(function (r) {
        var json = null;
        var contentType = r.res.headers.get('content-type') || '';
        if (contentType.indexOf('json') !== -1 || /^\s*[{[]/.test(r.text)) {
          try {
            json = JSON.parse(r.text);
          } catch (e) {
            json = null;
          }
        }
        if (r.res.ok && json) return json;
        throw errorFromResponse(r.res, json);
      })
      .finally(function () {
        if (timer) clearTimeout(timer);
      });
  }

  function apiError(headline, message, extra) {
    var e = new Error(message);
    e.headline = headline;
    e.detail = message;
    if (extra) {
      e.code = extra.code;
      e.status = extra.status;
      e.requestId = extra.requestId;
    }
    return e;
  }

  function errorFromResponse(res, json) {
    var status = res.status;
    var requestId = (json && json.requestId) || res.headers.get('x-request-id') || null;
    var code = json && typeof json.error === 'string' ? json.error : null;
    var serverMessage = json && typeof json.message === 'string' ? json.message : null;
    var headline = (code && HEADLINES[code]) || headlineForStatus(status);
    var message = serverMessage || messageForStatus(status);
    var hint = code && HINTS[code];
    if (!code && (status === 401 || status === 403)) hint = 'Check the API key in config.json.';
    if (code === 'OVERLOADED') {
      var retry = (json && json.retryAfterSeconds) || res.headers.get('retry-after');
      if (retry) hint = 'Try again in ' + retry + ' seconds.';
    }
    if (hint && message.indexOf(hint) === -1) message += ' ' + hint;
    return apiError(headline, message, { code: code, status: status, requestId: requestId });
  }

  function headlineForStatus(status) {
    if (status === 400) return 'The request was not accepted';
    if (status === 401 || status === 403) return 'Access denied';
    if (status === 404) return 'Not found';
    if (status === 413) return 'The image is too large';
    if (status === 415) return 'That file is not a supported image';
    if (status === 422) return 'The image could not be read';
    if (status === 429) return 'Too many requests';
    if (status === 502 || status === 503) return 'The service is unavailable';
    if (status === 504) return 'The server took too long';
    if (status >= 500) return 'Something went wrong on the server';
    if (status >= 200 && status < 300) return 'Unexpected answer from the server';
    return 'The request failed';
  }

  function messageForStatus(status) {
    var prefix = 'The server answered with HTTP ' + status + '. ';
    if (status === 401 || status === 403) return prefix + 'Check the API key in config.json.';
    if (status === 413) return prefix + 'Try a smaller photo.';
    if (status === 429) return prefix + 'Wait a little and try again.';
    if (status === 502 || status === 503 || status === 504)
      return prefix + 'The service may be starting up or overloaded. Try again in a moment.';
    if (status >= 200 && status < 300) return prefix + 'The answer could not be understood.';
    return prefix + 'Try again in a moment.';
  }

  // ---------------------------------------------------------------------------------------------
  // Models

  function currentTask() {
    var checked = el.form.querySelector('input[name="task"]:checked');
    return checked ? checked.value : 'classification';
  }

  function loadModels() {
    return apiFetch('models', { method: 'GET', headers: apiHeaders({ Accept: 'application/json' }) })
      .then(function (json) {
        if (!json || !Array.isArray(json.models)) throw apiError('Unexpected answer from the server', '');
        state.models = json.models;
      })
      .catch(function (e) {
        state.models = null;
        showError({
          headline: 'Could not load the list of models',
          detail: (e.detail || '') + ' The server’s default model will be used.',
          requestId: e.requestId,
        });
      })
      .then(fillModels);
  }

  function fillModels() {
    var task = currentTask();
    var previous = el.model.value;
    clear(el.model);
    var models = (state.models || [])
      .filter(function (m) {
        return m && m.task === task;
      })
      .sort(function (a, b) {
        // Usable models first; the server's order otherwise (Array.prototype.sort is stable).
        return (a.available === false ? 1 : 0) - (b.available === false ? 1 : 0);
      });
    if (models.length === 0) {
      var fallback = make('option', null, 'Server default');
      fallback.value = '';
      el.model.appendChild(fallback);
      el.model.value = '';
      updateModelDescription();
      return;
    }
    var chosen = null;
    models.forEach(function (m) {
      var unavailable = m.available === false;
      var option = make(
        'option',
        null,
        m.id + (m.default ? ' (default)' : '') + (unavailable ? ' — unavailable' : ''),
      );
      option.value = m.id;
      option.disabled = unavailable;
      el.model.appendChild(option);
    });
    var selectable = models.filter(function (m) {
      return m.available !== false;
    });
    var keep = selectable.filter(function (m) {
      return m.id === previous;
    })[0];
    var preferred = selectable.filter(function (m) {
      return m.default === true;
    })[0];
    chosen = keep || preferred || selectable[0] || models[0];
    el.model.value = chosen.id;
    updateModelDescription();
  }

  function updateModelDescription() {
    var id = el.model.value;
    var model = (state.models || []).filter(function (m) {
      return m.id === id;
    })[0];
    if (!model) {
      el.modelDescription.textContent = id ? '' : 'The server picks its default model for this task.';
      return;
    }
    var parts = [];
    if (model.description) parts.push(model.description);
    if (model.input && model.input.width) parts.push('input ' + model.input.width + '×' + model.input.height);
    if (typeof model.labels === 'number') parts.push(model.labels + ' classes');
    if (model.license) parts.push('licence ' + model.license);
    el.modelDescription.textContent = parts.join(' · ');
  }

  // ---------------------------------------------------------------------------------------------
  // Choosing and preparing an image

  function decode(file) {
    if (typeof createImageBitmap === 'function') {
      return createImageBitmap(file, { imageOrientation: 'from-image' }).then(function (bitmap) {
        return {
          source: bitmap,
          width: bitmap.width,
          height: bitmap.height,
          close: function () {
            if (bitmap.close) bitmap.close();
          },
        };
      });
    }
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        resolve({
          source: img,
          width: img.naturalWidth,
          height: img.naturalHeight,
          close: function () {
            URL.revokeObjectURL(url);
          },
        });
      };
      img.onerror = function () {
        URL.revokeObjectURL(url);
        reject(new Error('not an image'));
      };
      img.src = url;
    });
  }

  function toJpeg(image, width, height) {
    var canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    var ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff'; // transparent areas become white, not black
    ctx.fillRect(0, 0, width, height);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(image.source, 0, 0, width, height);
    var encode = function (quality) {
      return new Promise(function (resolve) {
        canvas.toBlob(resolve, 'image/jpeg', quality);
      });
    };
    var qualities = [JPEG_QUALITY].concat(FALLBACK_QUALITIES);
    // Very detailed (noisy) photos can stay large at 0.9; step the quality down until it fits.
    var attempt = function (i) {
      return encode(qualities[i]).then(function (blob) {
        if (blob && blob.size > SOFT_MAX_BYTES && i + 1 < qualities.length) return attempt(i + 1);
        return blob;
      });
    };
    return attempt(0).then(function (blob) {
      canvas.width = 0; // release the bitmap memory early (phones)
      canvas.height = 0;
      return blob;
    });
  }

  /**
   * Decides what to upload: small JPEG/PNG/WebP files unchanged, everything else the browser can
   * decode as an EXIF-oriented JPEG whose longest side is at most MAX_SIDE, and files the browser
   * cannot decode unchanged (the server then says what is wrong with them).
   */
  function prepare(file) {
    var original = { bytes: file.size, type: file.type, width: 0, height: 0 };
    var asIs = function (decoded) {
      return {
        blob: file,
        original: original,
        sent: { bytes: file.size, type: file.type, width: original.width, height: original.height },
        decoded: decoded,
        resized: false,
        converted: false,
      };
    };
    return decode(file).then(
      function (image) {
        original.width = image.width;
        original.height = image.height;
        var longest = Math.max(image.width, image.height);
        if (longest <= MAX_SIDE && PASS_THROUGH_TYPES.indexOf(file.type) !== -1) {
          image.close();
          return asIs(true);
        }
        var scale = Math.min(1, MAX_SIDE / longest);
        var width = Math.max(1, Math.round(image.width * scale));
        var height = Math.max(1, Math.round(image.height * scale));
        return toJpeg(image, width, height).then(function (blob) {
          image.close();
          if (!blob) return asIs(true);
          return {
            blob: blob,
            original: original,
            sent: { bytes: blob.size, type: blob.type, width: width, height: height },
            decoded: true,
            resized: scale < 1,
            converted: true,
          };
        });
      },
      function () {
        return asIs(false);
      },
    );
  }

  function chooseFile(file) {
    if (!file) return;
    var selectionId = ++state.selectionId;
    hideError();
    clearResults();
    state.prepared = null;
    el.sizes.hidden = true;
    updateSendState('Preparing the image…');
    el.dropzone.classList.add('is-busy');
    prepare(file).then(function (prepared) {
      if (selectionId !== state.selectionId) return; // a newer file was chosen meanwhile
      el.dropzone.classList.remove('is-busy');
      state.prepared = prepared;
      prepared.name = file.name || 'pasted image';
      showPreview(prepared);
      showSizes(prepared);
      updateSendState();
    });
  }

  function showPreview(prepared) {
    if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
    state.previewUrl = null;
    clear(el.overlay);
    if (prepared.decoded) {
      state.previewUrl = URL.createObjectURL(prepared.blob);
      el.previewImage.src = state.previewUrl;
      el.previewImage.alt = 'Preview of ' + prepared.name;
      el.previewCaption.textContent = prepared.name;
      el.preview.hidden = false;
      el.noPreview.hidden = true;
    } else {
      el.previewImage.removeAttribute('src');
      el.preview.hidden = true;
      el.noPreview.textContent =
        'No preview: your browser cannot show “' +
        prepared.name +
        '” as an image. You can still send it; the server will say whether it can read it.';
      el.noPreview.hidden = false;
    }
    el.dropzone.classList.add('has-image');
    el.dropzoneTitle.textContent = 'Choose another photo';
  }

  function showSizes(prepared) {
    el.sizeOriginal.textContent = describeSize(prepared.original);
    var sent = describeSize(prepared.sent);
    if (prepared.resized) sent += ' — downscaled in your browser';
    else if (prepared.converted) sent += ' — converted to JPEG in your browser';
    else if (!prepared.decoded) sent += ' — unchanged (not readable as an image here)';
    else sent += ' — unchanged';
    el.sizeSent.textContent = sent;
    el.sizes.hidden = false;
  }

  function updateSendState(hint) {
    // While a request runs the button stays focusable (a disabled button would drop the keyboard
    // focus to the top of the page); aria-disabled tells assistive technology, send() ignores it.
    el.send.disabled = !state.prepared;
    if (state.busy) el.send.setAttribute('aria-disabled', 'true');
    else el.send.removeAttribute('aria-disabled');
    el.send.textContent = state.busy ? 'Sending…' : 'Send';
    if (hint) el.sendHint.textContent = hint;
    else if (state.busy) el.sendHint.textContent = 'Waiting for the server…';
    else if (state.prepared)
      el.sendHint.textContent =
        currentTask() === 'detection'
          ? 'Ready: finds the objects in the image.'
          : 'Ready: names what is in the image.';
    else el.sendHint.textContent = 'Choose an image first.';
  }

  // ---------------------------------------------------------------------------------------------
  // Sending and showing results

  function send() {
    if (!state.prepared || state.busy) return;
    var prepared = state.prepared;
    var selectionId = state.selectionId;
    var task = currentTask();
    var model = el.model.value;
    var params = [];
    if (model) params.push('model=' + encodeURIComponent(model));
    var path;
    if (task === 'detection') {
      params.push('minConfidence=' + DETECTOR_MIN_CONFIDENCE);
      path = 'detector';
    } else {
      params.push('topK=' + TOP_K);
      path = 'classifier';
    }
    var url = path + (params.length ? '?' + params.join('&') : '');
    var type = prepared.blob.type || 'application/octet-stream';
    hideError();
    state.busy = true;
    el.results.setAttribute('aria-busy', 'true');
    updateSendState();
    var started = performance.now();
    apiFetch(url, { method: 'POST', headers: apiHeaders({ 'Content-Type': type }), body: prepared.blob })
      .then(function (json) {
        if (selectionId !== state.selectionId) return;
        var roundTrip = performance.now() - started;
        if (json.task === 'detection' || Array.isArray(json.detections)) showDetections(json);
        else if (Array.isArray(json.predictions)) showClassification(json);
        else throw apiError('Unexpected answer from the server', 'The answer had no results in it.');
        showTimings(json, roundTrip);
        // Detection boxes are drawn over the preview; everything else is in the results panel.
        reveal(!el.detection.hidden && !el.preview.hidden ? el.preview : el.results.parentNode);
      })
      .catch(function (e) {
        if (selectionId !== state.selectionId) return;
        clearResults();
        showError({
          headline: e.headline || 'Something went wrong',
          detail: e.detail || e.message,
          requestId: e.requestId,
        });
        reveal(el.results.parentNode);
      })
      .then(function () {
        state.busy = false;
        el.results.removeAttribute('aria-busy');
        updateSendState();
      });
  }

  function clearResults() {
    el.classification.hidden = true;
    el.detection.hidden = true;
    el.timings.hidden = true;
    el.resultsEmpty.hidden = false;
    clear(el.predictions);
    clear(el.detections);
    clear(el.overlay);
    state.detections = [];
  }

  function showClassification(json) {
    clearResults();
    var predictions = json.predictions.slice(0, TOP_K);
    var top = predictions[0];
    el.topLabel.textContent = top ? top.label : json.label || 'No label';
    el.topProbability.textContent = top ? formatPercent(top.probability) : '';
    predictions.forEach(function (p, i) {
      var item = make('li', 'prediction' + (i === 0 ? ' is-top' : ''));
      var row = make('div', 'prediction-row');
      var name = make('span', 'prediction-label', p.label);
      if (p.synset) name.title = p.synset;
      row.appendChild(name);
      row.appendChild(make('span', 'prediction-value', formatPercent(p.probability)));
      item.appendChild(row);
      var bar = make('div', 'bar');
      bar.setAttribute('aria-hidden', 'true');
      var fill = make('div', 'bar-fill');
      fill.style.width = Math.max(0, Math.min(100, p.probability * 100)).toFixed(1) + '%';
      bar.appendChild(fill);
      item.appendChild(bar);
      el.predictions.appendChild(item);
    });
    el.resultsEmpty.hidden = true;
    el.classification.hidden = false;
  }

  function showDetections(json) {
    clearResults();
    state.detections = (json.detections || []).slice().sort(function (a, b) {
      return b.score - a.score;
    });
    // One colour per label, in order of the best score, so the main objects never share a colour.
    state.colours = {};
    var next = 0;
    state.detections.forEach(function (d) {
      if (!Object.prototype.hasOwnProperty.call(state.colours, d.label))
        state.colours[d.label] = 'c' + (next++ % 8);
    });
    el.resultsEmpty.hidden = true;
    el.detection.hidden = false;
    renderDetections();
  }

  function threshold() {
    var v = parseFloat(el.threshold.value);
    return isNaN(v) ? 0.3 : v;
  }

  function renderDetections() {
    var min = threshold();
    el.thresholdValue.textContent = min.toFixed(2);
    clear(el.overlay);
    clear(el.detections);
    var shown = state.detections.filter(function (d) {
      return d.score >= min;
    });
    shown.forEach(function (d) {
      var colour = state.colours[d.label] || 'c0';
      var n = d.boxNormalized || {};
      var x1 = clamp01(n.x1);
      var y1 = clamp01(n.y1);
      var x2 = clamp01(n.x2);
      var y2 = clamp01(n.y2);
      var box = make('div', 'box ' + colour);
      box.style.left = (x1 * 100).toFixed(3) + '%';
      box.style.top = (y1 * 100).toFixed(3) + '%';
      box.style.width = (Math.max(0, x2 - x1) * 100).toFixed(3) + '%';
      box.style.height = (Math.max(0, y2 - y1) * 100).toFixed(3) + '%';
      var place = y1 < 0.06 ? ' is-inside' : '';
      if (x1 > 0.6) place += ' is-right';
      var tag = make('span', 'box-label' + place, d.label + ' ' + formatPercent(d.score));
      box.appendChild(tag);
      el.overlay.appendChild(box);

      var item = make('li', 'detection-item');
      item.appendChild(make('span', 'swatch ' + colour));
      item.appendChild(make('span', 'detection-label', d.label));
      item.appendChild(make('span', 'detection-score', formatPercent(d.score)));
      el.detections.appendChild(item);
    });
    var total = state.detections.length;
    if (total === 0) {
      el.detectionSummary.textContent = 'No objects found.';
    } else if (shown.length === 0) {
      el.detectionSummary.textContent =
        'No objects with a score of at least ' +
        min.toFixed(2) +
        ' (' +
        total +
        ' below it). Lower the minimum score to see them.';
    } else {
      el.detectionSummary.textContent =
        'Showing ' +
        shown.length +
        ' of ' +
        total +
        ' object' +
        (total === 1 ? '' : 's') +
        ' with a score of at least ' +
        min.toFixed(2) +
        '.';
    }
  }

  function clamp01(v) {
    v = Number(v);
    if (!isFinite(v)) return 0;
    return Math.max(0, Math.min(1, v));
  }

  function showTimings(json, roundTripMs) {
    var t = json.timings || {};
    var parts = [];
    var names = [
      ['decodeMs', 'decode'],
      ['preprocessMs', 'preprocess'],
      ['inferenceMs', 'inference'],
      ['postprocessMs', 'postprocess'],
      ['totalMs', 'server total'],
    ];
    names.forEach(function (pair) {
      if (typeof t[pair[0]] === 'number') parts.push(nbsp(pair[1] + ' ' + formatMs(t[pair[0]])));
    });
    parts.push(nbsp('round trip ' + formatMs(roundTripMs)));
    var lines = [parts.join(' · ')];
    var about = [];
    if (json.model) about.push(nbsp('model ' + json.model));
    if (json.image && json.image.width)
      about.push(
        nbsp(
          'server saw ' +
            json.image.width +
            '×' +
            json.image.height +
            (json.image.format ? ' ' + json.image.format : ''),
        ),
      );
    if (json.coldStart) about.push(nbsp('cold start (model loaded for this request)'));
    if (json.requestId) about.push('request ' + json.requestId);
    if (about.length) lines.push(about.join(' · '));
    el.timings.textContent = lines.join('\n');
    el.timings.hidden = false;
  }

  function nbsp(text) {
    return text.replace(/ /g, '\u00a0');
  }

  function formatMs(ms) {
    return (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + ' ms';
  }

  function showError(err) {
    clear(el.error);
    el.error.appendChild(make('strong', 'alert-headline', err.headline));
    if (err.detail) el.error.appendChild(make('span', 'alert-message', err.detail));
    if (err.requestId) el.error.appendChild(make('span', 'alert-reference', 'Reference: ' + err.requestId));
    el.error.hidden = false;
    el.resultsEmpty.hidden = true;
  }

  /** On phones the answer can be below the fold: bring it (or the boxes) into view. */
  function reveal(node) {
    var rect = node.getBoundingClientRect();
    if (rect.top >= 0 && rect.top < window.innerHeight - 80) return;
    var reduce = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    node.scrollIntoView({ block: 'start', behavior: reduce ? 'auto' : 'smooth' });
  }

  function hideError() {
    el.error.hidden = true;
    clear(el.error);
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  function openChooser() {
    el.file.value = '';
    el.file.click();
  }

  el.dropzone.addEventListener('click', openChooser);
  el.dropzone.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' || e.key === ' ' || e.key === 'Spacebar') {
      e.preventDefault();
      openChooser();
    }
  });
  el.file.addEventListener('change', function () {
    chooseFile(el.file.files && el.file.files[0]);
  });
  el.cameraButton.addEventListener('click', function () {
    el.camera.value = '';
    el.camera.click();
  });
  el.camera.addEventListener('change', function () {
    chooseFile(el.camera.files && el.camera.files[0]);
  });

  var dragDepth = 0;
  el.dropzone.addEventListener('dragenter', function (e) {
    e.preventDefault();
    dragDepth++;
    el.dropzone.classList.add('is-dragover');
  });
  el.dropzone.addEventListener('dragover', function (e) {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  });
  el.dropzone.addEventListener('dragleave', function () {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) el.dropzone.classList.remove('is-dragover');
  });
  el.dropzone.addEventListener('drop', function (e) {
    e.preventDefault();
    dragDepth = 0;
    el.dropzone.classList.remove('is-dragover');
    var files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) chooseFile(files[0]);
  });
  // A file dropped next to the drop zone must not make the browser navigate away from the page.
  window.addEventListener('dragover', function (e) {
    e.preventDefault();
  });
  window.addEventListener('drop', function (e) {
    e.preventDefault();
    var files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) chooseFile(files[0]);
  });

  document.addEventListener('paste', function (e) {
    var data = e.clipboardData;
    if (!data) return;
    var file = null;
    if (data.files && data.files.length) file = data.files[0];
    else if (data.items) {
      for (var i = 0; i < data.items.length && !file; i++) {
        if (data.items[i].kind === 'file') file = data.items[i].getAsFile();
      }
    }
    if (file) {
      e.preventDefault();
      chooseFile(file);
    }
  });

  el.form.addEventListener('submit', function (e) {
    e.preventDefault();
    send();
  });
  el.form.addEventListener('change', function (e) {
    if (e.target && e.target.name === 'task') {
      fillModels();
      updateSendState();
    }
  });
  el.model.addEventListener('change', updateModelDescription);
  el.threshold.addEventListener('input', renderDetections);

  loadConfig().then(loadModels);
})();
