package device

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// stateVersion is the version of the saved form; Load refuses others.
const stateVersion = 1

// state is a Device as MarshalJSON writes it and Load reads it. The HTTP
// client and the clock are not part of it; Load takes them as Options.
type state struct {
	Version      int               `json:"version"`
	Flavor       Flavor            `json:"flavor"`
	PrivateKey   string            `json:"private_key"` // PKCS#8 DER, standard Base64
	BaseURL      string            `json:"base_url"`
	FriendlyName string            `json:"friendly_name"`
	AppID        string            `json:"app_id"`
	SDKVersion   string            `json:"sdk_version"`
	UserAgent    string            `json:"user_agent,omitempty"`
	Platform     string            `json:"notification_platform,omitempty"`
	PushToken    string            `json:"notification_token,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	ClockOffset  int64             `json:"clock_offset"` // seconds
	Factor       *Factor           `json:"factor"`
}

// MarshalJSON returns the Device as JSON that Load reads back: its settings,
// its factor, its clock offset and its private key (PKCS#8, Base64). The
// key is the factor's only secret: keep the JSON as private as the key
// (Save writes it with mode 0600).
func (d *Device) MarshalJSON() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	der, err := x509.MarshalPKCS8PrivateKey(d.key)
	if err != nil {
		return nil, fmt.Errorf("device: marshal key: %w", err)
	}
	var f *Factor
	if d.factor != nil {
		c := *d.factor
		f = &c
	}
	return json.Marshal(state{
		Version:      stateVersion,
		Flavor:       d.flavor,
		PrivateKey:   b64(der),
		BaseURL:      d.baseURL,
		FriendlyName: d.friendlyName,
		AppID:        d.appID,
		SDKVersion:   d.sdkVersion,
		UserAgent:    d.userAgent,
		Platform:     d.platform,
		PushToken:    d.pushToken,
		Metadata:     d.metadata,
		ClockOffset:  d.offset,
		Factor:       f,
	})
}

// Load returns the Device that MarshalJSON wrote as data. opts apply on top
// of the saved settings: give the HTTP client and clock here, or a base URL
// to point the Device somewhere else.
func Load(data []byte, opts ...Option) (*Device, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st state
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("device: load: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("device: load: data after the JSON object")
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("device: load: version %d, want %d", st.Version, stateVersion)
	}
	der, err := base64.StdEncoding.DecodeString(st.PrivateKey)
	if err != nil {
		return nil, errors.New("device: load: private_key is not Base64")
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("device: load: private_key is not a PKCS#8 key")
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("device: load: private_key is not an ECDSA key")
	}
	if f := st.Factor; f != nil && (f.SID == "" || f.ServiceSID == "" || f.Identity == "" || f.AccountSID == "" || f.CredentialSID == "") {
		return nil, errors.New("device: load: factor lacks a SID, service, identity, account or credential")
	}
	s := settings{
		flavor:       st.Flavor,
		key:          key,
		baseURL:      st.BaseURL,
		friendlyName: st.FriendlyName,
		appID:        st.AppID,
		sdkVersion:   st.SDKVersion,
		userAgent:    st.UserAgent,
		platform:     st.Platform,
		pushToken:    st.PushToken,
		metadata:     st.Metadata,
	}
	for _, opt := range opts {
		opt(&s)
	}
	return build(s, st.ClockOffset, st.Factor)
}

// Save writes the Device, as MarshalJSON writes it, to the file path with
// mode 0600. It replaces the file atomically: a reader sees the old Device
// or the new one, never a mix, and a crash leaves one of the two.
func (d *Device) Save(path string) error {
	data, err := d.MarshalJSON()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("device: save: %w", err)
	}
	return nil
}

// LoadFile reads a Device that Save wrote to path; see Load for opts.
func LoadFile(path string, opts ...Option) (*Device, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	return Load(data, opts...)
}

// writeFileAtomic writes data to a new file of mode 0600 beside path, then
// renames it over path and syncs the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	// CreateTemp makes the file with mode 0600 before anything is written.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	// Exactly 0600, whatever the umask.
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory is synced.
	dirf, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = dirf.Sync()
	if cerr := dirf.Close(); err == nil {
		err = cerr
	}
	return err
}
