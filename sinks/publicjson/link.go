package publicjson

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
)

// maxLinkFailures is how many failed hard links make a Prepare stop trying
// (a filesystem without hard links, a previous snapshot on another device):
// every file is then written.
const maxLinkFailures = 16

// previous is the snapshot latest.json names, as its manifest lists it: a
// new snapshot links its files that have the same bytes instead of writing
// them again.
type previous struct {
	dir      string // the snapshot directory
	files    map[string]prevFile
	mkLink   func(oldname, newname string) error
	failures int
}

type prevFile struct {
	sum  [32]byte
	size int64
}

// previous reads the manifest of the snapshot latest.json names; nil when
// there is none or it cannot be read, checked and parsed (then every file
// is written, as on a first publish).
func (p *Publisher) previous() *previous {
	b, err := os.ReadFile(filepath.Join(p.dir, "latest.json"))
	if err != nil {
		return nil
	}
	var l latestDoc
	if json.Unmarshal(b, &l) != nil || !safeSnapshotID.MatchString(l.SnapshotID) || l.Path != "snapshots/"+l.SnapshotID+"/" {
		return nil
	}
	dir := filepath.Join(p.dir, "snapshots", l.SnapshotID)
	b, err = os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil
	}
	var m struct {
		SnapshotID string      `json:"snapshotId"`
		Files      []FileEntry `json:"files"`
	}
	if json.Unmarshal(b, &m) != nil || m.SnapshotID != l.SnapshotID {
		return nil
	}
	pv := &previous{dir: dir, files: make(map[string]prevFile, len(m.Files)), mkLink: p.link}
	if pv.mkLink == nil {
		pv.mkLink = os.Link
	}
	for _, f := range m.Files {
		var e prevFile
		if n, err := hex.Decode(e.sum[:], []byte(f.SHA256)); err != nil || n != len(e.sum) || f.Bytes < 0 {
			continue
		}
		e.size = f.Bytes
		pv.files[f.Path] = e
	}
	return pv
}

// link makes dst a hard link to the previous snapshot's file rel when that
// file has the bytes of sum and size: the previous manifest says so, and
// its size on disk agrees (a snapshot is never changed once published, so
// the manifest's sha256 is the file's). It reports whether it linked; when
// not, the caller writes the file. Called by one writer goroutine.
func (pv *previous) link(rel string, sum [32]byte, size int64, dst string) bool {
	if pv == nil || pv.failures >= maxLinkFailures {
		return false
	}
	f, ok := pv.files[rel]
	if !ok || f.sum != sum || f.size != size {
		return false
	}
	src := filepath.Join(pv.dir, filepath.FromSlash(rel))
	fi, err := os.Lstat(src)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return false
	}
	if err := pv.mkLink(src, dst); err != nil {
		pv.failures++
		return false
	}
	return true
}
