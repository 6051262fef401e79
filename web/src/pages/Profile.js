// The profile: picture (document 004's, with a preview before it is saved), names,
// company, bio and e-mail (document 003's update, which also takes the company).
import { useEffect, useRef, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import { useSession } from '../context/session.js';
import { useNotify } from '../context/notices.js';
import { Alert, Badge, Loading } from '../components/feedback.js';
import { Avatar } from '../components/Avatar.js';
import { Button, Field, bind } from '../components/form.js';
import { PageHeader, Section } from '../components/Page.js';
import { VerifyBanner } from './Home.js';
import * as api from '../api/endpoints.js';
import { fieldError } from '../models/errors.js';
import { formatBytes } from '../models/format.js';

const PICTURE_TYPES = 'image/png,image/jpeg,image/webp,image/gif';

export function Profile() {
  const { user, config, patchUser, refresh } = useSession();
  const notify = useNotify();
  const [values, setValues] = useState(null);
  const [loadError, setLoadError] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [picture, setPicture] = useState(null); // { file, url } chosen, not saved yet
  const [pictureError, setPictureError] = useState('');
  const [pictureBusy, setPictureBusy] = useState(false);
  const fileInput = useRef(null);
  const maxPicture = (config && config.limits && config.limits.max_picture_bytes) || 5 * 1024 * 1024;

  useEffect(() => {
    Promise.all([api.getMyProfile(), api.getMyCompany()]).then(
      ([p, company_name]) => setValues({ first_name: p.first_name, last_name: p.last_name, company_name, bio: p.bio, email: p.email }),
      (err) => setLoadError(err.message),
    );
  }, []);
  useEffect(() => () => picture && URL.revokeObjectURL(picture.url), [picture]);

  const choose = (e) => {
    const file = e.currentTarget.files && e.currentTarget.files[0];
    setPictureError('');
    if (!file) return;
    if (!PICTURE_TYPES.split(',').includes(file.type)) {
      setPictureError('Choose a PNG, JPEG, WebP or GIF picture.');
      return;
    }
    if (file.size > maxPicture) {
      setPictureError(`That picture is ${formatBytes(file.size)}; the largest accepted is ${formatBytes(maxPicture)}.`);
      return;
    }
    setPicture({ file, url: URL.createObjectURL(file) });
  };

  const savePicture = async () => {
    setPictureBusy(true);
    setPictureError('');
    try {
      const answer = await api.uploadPicture(picture.file);
      patchUser({ picture: answer.profile_pic });
      setPicture(null);
      if (fileInput.current) fileInput.current.value = '';
      notify('Profile picture saved.');
    } catch (err) {
      setPictureError(fieldError(err, 'profile_pic') || err.message);
    } finally {
      setPictureBusy(false);
    }
  };

  const removePicture = async () => {
    setPictureBusy(true);
    setPictureError('');
    try {
      await api.removePicture();
      patchUser({ picture: null });
      notify('Profile picture removed.');
    } catch (err) {
      setPictureError(err.message);
    } finally {
      setPictureBusy(false);
    }
  };

  const save = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await api.updateProfile(values);
      const emailChanged = answer.email !== user.email;
      patchUser({ first_name: answer.first_name, last_name: answer.last_name, email: answer.email });
      if (emailChanged) await refresh();
      notify(emailChanged ? 'Profile saved. Check your inbox to verify the new address.' : 'Profile saved.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (loadError) return html`<div><${PageHeader} title="Profile" /><${Alert}>${loadError}<//></div>`;
  if (!values) return html`<div><${PageHeader} title="Profile" /><${Loading} /></div>`;
  const f = bind(values, setValues);
  const anyField = error && Object.keys(error.fields || {}).length > 0;
  return html`<div>
    <${PageHeader} title="Profile" subtitle="How you appear to others, and how we reach you." />
    <${VerifyBanner} />
    <div class="stack">
      <${Section} id="picture" title="Profile picture" description="PNG, JPEG, WebP or GIF, up to ${formatBytes(maxPicture)}. It is re-encoded and shown on your public page.">
        <div class="picture-row">
          <div class="picture-preview">
            <${Avatar} user=${user} size=${96} src=${picture ? picture.url : undefined} />
            ${picture ? html`<${Badge} tone="info">Preview<//>` : null}
          </div>
          <div class="picture-actions">
            <label class="btn btn-secondary file-button">
              <input ref=${fileInput} type="file" accept=${PICTURE_TYPES} class="visually-hidden" onChange=${choose}
                aria-describedby=${pictureError ? 'picture-error' : undefined} name="profile_pic" />
              <span>${user.picture || picture ? 'Choose another picture' : 'Choose a picture'}</span>
            </label>
            ${picture ? html`<${Button} onClick=${savePicture} busy=${pictureBusy}>Save picture<//>
              <${Button} variant="ghost" onClick=${() => { setPicture(null); fileInput.current.value = ''; }} disabled=${pictureBusy}>Cancel<//>` : null}
            ${!picture && user.picture ? html`<${Button} variant="ghost" onClick=${removePicture} busy=${pictureBusy}>Remove<//>` : null}
            ${picture ? html`<p class="hint">${picture.file.name} · ${formatBytes(picture.file.size)}</p>` : null}
            ${pictureError ? html`<p id="picture-error" class="field-error" role="alert">${pictureError}</p>` : null}
          </div>
        </div>
      <//>
      <${Section} id="details" title="Details">
        <${Alert}>${error && !anyField ? error.message : null}<//>
        <form onSubmit=${save} novalidate>
          <div class="field-row">
            <${Field} label="First name" ...${f('first_name')} autocomplete="given-name" maxlength="150" error=${fieldError(error, 'first_name')} />
            <${Field} label="Last name" ...${f('last_name')} autocomplete="family-name" maxlength="150" error=${fieldError(error, 'last_name')} />
          </div>
          <${Field} label="Company" ...${f('company_name')} autocomplete="organization" maxlength="255" error=${fieldError(error, 'company_name')} />
          <${Field} label="Bio" ...${f('bio')} multiline maxlength="1000" hint=${`${values.bio.length} of 1000 characters. Shown on your public page.`} error=${fieldError(error, 'bio')} />
          <${Field} label="E-mail address" ...${f('email')} type="email" autocomplete="email" required
            hint="A new address must be verified again: we send it a link." error=${fieldError(error, 'email')} />
          <div class="field">
            <span class="label">Username</span>
            <p class="readonly">@${user.username}</p>
          </div>
          <div class="form-actions"><${Button} type="submit" busy=${busy}>Save changes<//></div>
        </form>
      <//>
    </div>
  </div>`;
}
