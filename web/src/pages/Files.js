// Files: upload with a progress bar (XHR upload events), the list, download, delete,
// and the storage summary.
import { useEffect, useRef, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { useSession } from '../context/session.js';
import { useNotify } from '../context/notices.js';
import { Alert, Badge, Empty, Loading } from '../components/feedback.js';
import { Button } from '../components/form.js';
import { ConfirmDialog } from '../components/Dialog.js';
import { PageHeader, Section } from '../components/Page.js';
import * as api from '../api/endpoints.js';
import { formatBytes, formatCount, formatTime } from '../models/format.js';

/** A short label for the file's icon: its extension, or "file". */
function extension(name) {
  const m = /\.([A-Za-z0-9]{1,4})$/.exec(name);
  return m ? m[1] : 'file';
}

function Uploader({ onUploaded }) {
  const { config } = useSession();
  const notify = useNotify();
  const input = useRef(null);
  const [file, setFile] = useState(null);
  const [progress, setProgress] = useState(null);
  const [error, setError] = useState('');
  const max = config && config.limits && config.limits.max_upload_bytes;
  const choose = (e) => {
    setError('');
    const f = e.currentTarget.files && e.currentTarget.files[0];
    if (f && max && f.size > max) {
      setError(`${f.name} is ${formatBytes(f.size)}; the largest upload is ${formatBytes(max)}.`);
      setFile(null);
      return;
    }
    setFile(f || null);
  };
  const upload = async (e) => {
    e.preventDefault();
    if (!file) return;
    setError('');
    setProgress(0);
    try {
      const stored = await api.uploadFile(file, (sent, total) => setProgress(Math.round((sent / total) * 100)));
      notify(`${stored.name} uploaded.`);
      setFile(null);
      input.current.value = '';
      onUploaded();
    } catch (err) {
      setError(err.message);
    } finally {
      setProgress(null);
    }
  };
  const uploading = progress !== null;
  return html`<${Section} id="upload" title="Upload a file" description=${max ? `Any kind of file, up to ${formatBytes(max)}.` : 'Any kind of file.'}>
    <form class="upload" onSubmit=${upload}>
      <div class="field">
        <label for="upload-file">File</label>
        <input id="upload-file" ref=${input} type="file" name="file" onChange=${choose} disabled=${uploading}
          aria-describedby=${error ? 'upload-error' : undefined} />
      </div>
      <${Button} type="submit" disabled=${!file} busy=${uploading}>Upload<//>
    </form>
    ${uploading ? html`<div class="progress-wrap">
      <label for="upload-progress">Uploading ${file && file.name}… <span aria-hidden="true">${progress}%</span></label>
      <progress id="upload-progress" max="100" value=${progress}>${progress}%</progress>
    </div>` : null}
    ${error ? html`<p id="upload-error" class="field-error" role="alert">${error}</p>` : null}
  <//>`;
}

export function Files() {
  const { user } = useSession();
  const notify = useNotify();
  const [files, setFiles] = useState(null);
  const [count, setCount] = useState(0);
  const [next, setNext] = useState(null);
  const [storage, setStorage] = useState(null);
  const [error, setError] = useState('');
  const [deleting, setDeleting] = useState(null);
  const [busy, setBusy] = useState(false);

  const load = async () => {
    setError('');
    try {
      const [page, summary] = await Promise.all([api.listFiles(), api.getStorage()]);
      setFiles(page.results);
      setCount(page.count);
      setNext(page.next);
      setStorage(summary);
    } catch (err) {
      setError(err.message);
    }
  };
  useEffect(() => {
    load();
  }, []);
  const more = async () => {
    try {
      const page = await api.listFiles(next);
      setFiles([...files, ...page.results]);
      setNext(page.next);
    } catch (err) {
      setError(err.message);
    }
  };
  const remove = async () => {
    setBusy(true);
    try {
      await api.deleteFile(deleting.id);
      notify(`${deleting.name} deleted.`);
      setDeleting(null);
      await load();
    } catch (err) {
      setError(err.message);
      setDeleting(null);
    } finally {
      setBusy(false);
    }
  };

  return html`<div>
    <${PageHeader} title="Files" subtitle="Files you keep here, private to you." />
    <div class="grid grid-2">
      <${Uploader} onUploaded=${load} />
      <${Section} id="storage" title="Storage used">
        ${storage ? html`<p class="big-number">${formatBytes(storage.total_bytes)}</p>
          <p class="muted">${formatCount(storage.file_count, 'file', 'files')}</p>` : html`<${Loading} />`}
      <//>
    </div>
    <${Alert}>${error}<//>
    <${Section} id="files" title="Your files" description=${files ? formatCount(count, 'file', 'files') : null}>
      ${!files && !error ? html`<${Loading} />` : null}
      ${files && files.length === 0 ? html`<${Empty} title="No files yet">Upload one above; only you can see it.<//>` : null}
      ${files && files.length ? html`<ul class="files" aria-label="Your files, newest first">${files.map((f) => html`<li key=${f.id} class="file-row">
          <span class="file-icon" aria-hidden="true">${extension(f.name)}</span>
          <div class="file-text">
            <span class="file-name">${f.name}</span>
            <span class="muted">${formatBytes(f.size)} · ${formatTime(f.created_at, user.tz)}</span>
            ${f.status !== 'available' ? html` <${Badge} tone="warning">${f.status}<//>` : null}
          </div>
          <div class="file-actions">
            ${f.status === 'available' ? html`<a class="btn btn-secondary btn-small" href=${api.fileContentUrl(f.id)} download=${f.name}
              aria-label=${`Download ${f.name}`}>Download</a>` : null}
            <${Button} variant="danger-outline" small onClick=${() => setDeleting(f)} aria-label=${`Delete ${f.name}`}>Delete<//>
          </div>
        </li>`)}</ul>` : null}
      ${next ? html`<p class="center"><${Button} variant="secondary" onClick=${more}>Show more<//></p>` : null}
    <//>
    <${ConfirmDialog} open=${Boolean(deleting)} title="Delete this file?" confirmLabel="Delete" busy=${busy}
      onConfirm=${remove} onCancel=${() => setDeleting(null)}>
      <p><strong>${deleting && deleting.name}</strong> will be deleted for good. This cannot be undone.</p>
    <//>
  </div>`;
}
