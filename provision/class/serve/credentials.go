package serve

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lvslab/lvslab/provision/paths"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/ssh"
)

// Teacher is the login name of the class's teacher (no student may have it).
const Teacher = "teacher"

// argonParams are argon2id's costs, kept with each hash so that they can be
// raised later without invalidating the passphrases handed out.
type argonParams struct {
	Time    uint32 `json:"t"`
	Memory  uint32 `json:"m"` // KiB
	Threads uint8  `json:"p"`
	KeyLen  uint32 `json:"l"`
}

// hashParams: the second of OWASP's argon2id settings (19 MiB, 2 passes,
// 1 lane): about 30 ms on one core here. Tests lower it.
var hashParams = argonParams{Time: 2, Memory: 19 * 1024, Threads: 1, KeyLen: 32}

// Hash is an argon2id hash of a passphrase with its salt and costs.
type Hash struct {
	Params argonParams `json:"argon2id"`
	Salt   []byte      `json:"salt"`
	Sum    []byte      `json:"hash"`
}

func newHash(pass string) (Hash, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return Hash{}, err
	}
	p := hashParams
	return Hash{Params: p, Salt: salt, Sum: argon2.IDKey([]byte(normalize(pass)), salt, p.Time, p.Memory, p.Threads, p.KeyLen)}, nil
}

// matches compares in constant time.
func (h Hash) matches(pass string) bool {
	p := h.Params
	if p.KeyLen == 0 || p.KeyLen > 64 || p.Memory > 1<<20 || p.Time > 16 || p.Threads == 0 {
		return false
	}
	sum := argon2.IDKey([]byte(normalize(pass)), h.Salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(sum, h.Sum) == 1
}

// normalize forgives what people do when they copy a slip: case, spaces,
// dashes.
func normalize(pass string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '\t' {
			return -1
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, pass)
}

// passEncoding is base32 in lower case: no 0, 1, 8 or 9 to confuse with
// letters.
var passEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewPassphrase is 80 random bits as 16 base32 letters in groups of four
// ("k3vq-x7ma-2pcd-hj5e").
func NewPassphrase() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := passEncoding.EncodeToString(b)
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16], nil
}

// Account is one login: the hash of its passphrase and, for a student, the
// SSH public keys they registered for the door (public keys only, in
// authorized_keys form). Generation counts rotations: a session of an older
// generation is no longer valid.
type Account struct {
	Hash       Hash     `json:"passphrase"`
	Keys       []string `json:"keys,omitempty"`
	Generation int      `json:"generation"`
}

// Credentials are a class's logins, kept as JSON (mode 0600) beside the
// class record. Nothing in it is a secret in the clear.
type Credentials struct {
	mu   sync.Mutex
	path string
	// seen is the file as last read or written: another process (class
	// credentials, the SSH door) may change it while the server runs.
	seen     fileStamp
	Class    string              `json:"class"`
	Accounts map[string]*Account `json:"accounts"`
}

// LoadCredentials reads class's credentials (root's CredentialsFile); a
// class without any yet has none.
func LoadCredentials(root paths.Root, class string) (*Credentials, error) {
	c := &Credentials{path: root.CredentialsFile(class), Class: class, Accounts: map[string]*Account{}}
	data, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("credentials %s: %w", c.path, err)
	}
	if c.Class != class {
		return nil, fmt.Errorf("credentials %s are of class %q, not %q", c.path, c.Class, class)
	}
	if c.Accounts == nil {
		c.Accounts = map[string]*Account{}
	}
	c.seen = stamp(c.path)
	return c, nil
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size()}
}

// refresh rereads the file when another process changed it (a rotation by
// "class credentials" ends the old passphrase here at once). c.mu is held.
func (c *Credentials) refresh() {
	st := stamp(c.path)
	if st == (fileStamp{}) || st == c.seen {
		return
	}
	data, err := os.ReadFile(c.path)
	if err != nil {
		return
	}
	var fresh Credentials
	if json.Unmarshal(data, &fresh) != nil || fresh.Class != c.Class || fresh.Accounts == nil {
		return
	}
	c.Accounts, c.seen = fresh.Accounts, st
}

// Path is the file the credentials are kept in.
func (c *Credentials) Path() string { return c.path }

// Save writes the credentials (atomically, mode 0600).
func (c *Credentials) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.save()
}

func (c *Credentials) save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return err
	}
	if err := paths.WriteFileAtomic(c.path, append(data, '\n'), 0o600); err != nil {
		return err
	}
	c.seen = stamp(c.path)
	return nil
}

// Slip is one login handed out on paper: the only time a passphrase exists
// in the clear.
type Slip struct {
	Name       string `json:"name"`
	Passphrase string `json:"passphrase"`
}

// Issue gives a passphrase to the teacher and to each student who has none
// yet (all of them again with rotate), forgets accounts of students no
// longer in the class, and saves. It returns the new slips, teacher first.
func (c *Credentials) Issue(students []string, rotate bool) ([]Slip, error) {
	want := map[string]bool{Teacher: true}
	for _, s := range students {
		if s == Teacher {
			return nil, fmt.Errorf("a student may not be called %q: it is the teacher's login", Teacher)
		}
		if s == "" || strings.ContainsAny(s, "/\\?#%<>&\"' \t\r\n") {
			return nil, fmt.Errorf("student name %q: no spaces, slashes or quotes", s)
		}
		want[s] = true
	}
	c.mu.Lock()
	c.refresh()
	defer c.mu.Unlock()
	for name := range c.Accounts {
		if !want[name] {
			delete(c.Accounts, name)
		}
	}
	names := append([]string{Teacher}, sortedCopy(students)...)
	var slips []Slip
	for _, name := range names {
		a := c.Accounts[name]
		if a != nil && !rotate {
			continue
		}
		slip, err := c.rotate(name)
		if err != nil {
			return nil, err
		}
		slips = append(slips, slip)
	}
	return slips, c.save()
}

// Rotate gives name (a student or the teacher) a new passphrase, which ends
// its sessions, and saves.
func (c *Credentials) Rotate(name string) (Slip, error) {
	c.mu.Lock()
	c.refresh()
	defer c.mu.Unlock()
	if c.Accounts[name] == nil {
		return Slip{}, fmt.Errorf("no login %q in class %s", name, c.Class)
	}
	slip, err := c.rotate(name)
	if err != nil {
		return Slip{}, err
	}
	return slip, c.save()
}

func (c *Credentials) rotate(name string) (Slip, error) {
	pass, err := NewPassphrase()
	if err != nil {
		return Slip{}, err
	}
	h, err := newHash(pass)
	if err != nil {
		return Slip{}, err
	}
	a := c.Accounts[name]
	if a == nil {
		a = &Account{}
		c.Accounts[name] = a
	}
	a.Hash = h
	a.Generation++
	return Slip{Name: name, Passphrase: pass}, nil
}

// dummy is compared against for an unknown name, so that a wrong name costs
// the same time as a wrong passphrase.
var dummy = sync.OnceValue(func() Hash { h, _ := newHash("no such login"); return h })

// Verify says whether pass is name's passphrase, and the account's
// generation.
func (c *Credentials) Verify(name, pass string) (generation int, ok bool) {
	c.mu.Lock()
	c.refresh()
	a := c.Accounts[name]
	var h Hash
	if a != nil {
		h, generation = a.Hash, a.Generation
	}
	c.mu.Unlock()
	if a == nil {
		dummy().matches(pass)
		return 0, false
	}
	return generation, h.matches(pass)
}

// Generation is name's current generation (0: no such login).
func (c *Credentials) Generation(name string) int {
	c.mu.Lock()
	c.refresh()
	defer c.mu.Unlock()
	if a := c.Accounts[name]; a != nil {
		return a.Generation
	}
	return 0
}

// RegisterKey records a public key (one authorized_keys line) for student's
// use of the SSH door, and saves. A key already registered is kept once.
func (c *Credentials) RegisterKey(student, line string) error {
	if len(line) > 16<<10 {
		return errors.New("that key is too long")
	}
	key, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return fmt.Errorf("not an SSH public key (paste one line of a .pub file): %w", err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return errors.New("one key at a time")
	}
	norm := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	if comment = clean(comment, maxName, false); comment != "" {
		norm += " " + strings.ReplaceAll(comment, " ", "_")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	a := c.Accounts[student]
	if a == nil || student == Teacher {
		return fmt.Errorf("no student %q in class %s", student, c.Class)
	}
	for _, k := range a.Keys {
		if known, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err == nil && string(known.Marshal()) == string(key.Marshal()) {
			return nil
		}
	}
	if len(a.Keys) >= 8 {
		return errors.New("a student may register at most 8 keys")
	}
	a.Keys = append(a.Keys, norm)
	return c.save()
}

// Keys are student's registered public keys.
func (c *Credentials) Keys(student string) []ssh.PublicKey {
	c.mu.Lock()
	c.refresh()
	defer c.mu.Unlock()
	a := c.Accounts[student]
	if a == nil {
		return nil
	}
	var keys []ssh.PublicKey
	for _, k := range a.Keys {
		if key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err == nil {
			keys = append(keys, key)
		}
	}
	return keys
}

// KeyLines are student's registered keys as authorized_keys lines.
func (c *Credentials) KeyLines(student string) []string {
	c.mu.Lock()
	c.refresh()
	defer c.mu.Unlock()
	if a := c.Accounts[student]; a != nil {
		return append([]string(nil), a.Keys...)
	}
	return nil
}

// WriteSlipsCSV prints slips as CSV: name,passphrase,url.
func WriteSlipsCSV(w io.Writer, url string, slips []Slip) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"name", "passphrase", "url"})
	for _, s := range slips {
		cw.Write([]string{s.Name, s.Passphrase, url})
	}
	cw.Flush()
	return cw.Error()
}

var slipsPage = template.Must(template.New("slips").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lvslab class {{.Class}}: logins</title>
<style>
body { font-family: sans-serif; margin: 1cm; }
.slip { display: inline-block; width: 8.5cm; margin: 0 .4cm .6cm 0; padding: .4cm; border: 1px dashed #888; page-break-inside: avoid; vertical-align: top; }
.slip h2 { font-size: 14pt; margin: 0 0 .2cm; }
.pass { font: bold 15pt monospace; letter-spacing: .05em; }
.small { font-size: 9pt; color: #444; }
</style></head><body>
{{range .Slips}}<div class="slip"><h2>{{if eq .Name $.Teacher}}Teacher{{else}}{{.Name}}{{end}}</h2>
<div class="small">Class {{$.Class}}{{if $.URL}} — {{$.URL}}{{end}}</div>
<div>login: <b>{{.Name}}</b></div>
<div>passphrase: <span class="pass">{{.Passphrase}}</span></div>
<div class="small">Keep it to yourself. Dashes and case do not matter.</div></div>
{{end}}</body></html>
`))

// WriteSlipsHTML prints slips as a page to print and cut.
func WriteSlipsHTML(w io.Writer, class, url string, slips []Slip) error {
	return slipsPage.Execute(w, map[string]any{"Class": class, "URL": url, "Slips": slips, "Teacher": Teacher})
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
