package packaging

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/papyrad/papyrad/internal/testutil"
)

// TestImage builds the OCI image with `make image` (podman or buildah, in a storage of the
// test's own, nothing pulled), unpacks the OCI archive it writes, checks its configuration
// (a numeric non-root user, the binary as entrypoint, the OCI labels), and runs the
// entrypoint, as the image's user, chrooted into the image's root file system: `papyrad
// version`, then a compaction of a store copied into it, checked record by record.
func TestImage(t *testing.T) {
	t.Parallel()
	testutil.Root(t, "running the image's entrypoint in a chroot")
	tool := "podman"
	if _, err := exec.LookPath(tool); err != nil {
		tool = testutil.Tool(t, "buildah")
	}
	testutil.Tool(t, "tar")
	dist := t.TempDir()
	storage := t.TempDir()
	makeTarget(t, dist, "image", "CONTAINER_TOOL="+tool, "IMAGE=localhost/papyrad-test:latest",
		"CONTAINER_FLAGS=--root "+filepath.Join(storage, "root")+" --runroot "+filepath.Join(storage, "run")+" --storage-driver vfs")

	cfg, rootfs := unpackImage(t, filepath.Join(dist, "papyrad-image.oci.tar"))
	uid, gid, ok := numericUser(cfg.Config.User)
	if !ok || uid == 0 || gid == 0 {
		t.Fatalf("image user %q: want a numeric user and group, not root", cfg.Config.User)
	}
	if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/usr/bin/papyrad" {
		t.Errorf("entrypoint %q, want [/usr/bin/papyrad]", cfg.Config.Entrypoint)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.title":    "papyrad",
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": testRevision,
		"org.opencontainers.image.created":  testBuildDate,
		"org.opencontainers.image.source":   "https://github.com/papyrad/papyrad",
		"org.opencontainers.image.licenses": "NOASSERTION",
	} {
		if got := cfg.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	// Nothing but the binary and its state directory.
	var files []string
	filepath.WalkDir(rootfs, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(rootfs, p)
			files = append(files, rel)
		}
		return nil
	})
	if strings.Join(files, " ") != "usr/bin/papyrad" {
		t.Errorf("image files %q, want only usr/bin/papyrad", files)
	}

	entrypoint := func(args ...string) (string, string, error) {
		cmd := exec.Command(cfg.Config.Entrypoint[0], args...)
		cmd.Dir = "/"
		if cfg.Config.WorkingDir != "" {
			cmd.Dir = cfg.Config.WorkingDir
		}
		cmd.Env = cfg.Config.Env
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rootfs, Credential: &syscall.Credential{Uid: uid, Gid: gid}}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	out, stderr, err := entrypoint("version")
	if err != nil {
		t.Fatalf("papyrad version in the image: %v\n%s%s", err, out, stderr)
	}
	checkVersion(t, out)

	// A store "mounted" into the image: Papyra's records from 2002 and 2100, a line cut off by a
	// crash and a blank line, owned by the image's user.
	original := readFile(t, filepath.Join("..", "configs", "example-store.ndjson"))
	data := filepath.Join(rootfs, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(data, "events.ndjson")
	if err := os.WriteFile(store, original, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{data, store} {
		if err := os.Chown(p, int(uid), int(gid)); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err = entrypoint("compact", "--backend", "json", "--path", "/data/events.ndjson", "--max-age", "30d", "--json")
	if err != nil {
		t.Fatalf("papyrad compact in the image: %v\n%s%s", err, out, stderr)
	}
	var rep struct {
		Stores []struct {
			Result             string `json:"result"`
			RecordsDropped     int    `json:"records_dropped"`
			RecordsQuarantined int    `json:"records_quarantined"`
			QuarantineFile     string `json:"quarantine_file"`
		} `json:"stores"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Stores) != 1 {
		t.Fatalf("report: %v\n%s%s", err, out, stderr)
	}
	var kept []byte
	dropped := 0
	for _, line := range bytes.SplitAfter(original, []byte("\n")) {
		var rec struct{ Timestamp float64 }
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		if rec.Timestamp > 4e9 { // 2100
			kept = append(kept, line...)
		} else {
			dropped++
		}
	}
	r := rep.Stores[0]
	if r.Result != "ok" || r.RecordsDropped != dropped || r.RecordsQuarantined != 1 {
		t.Errorf("report: result %s, %d dropped, %d quarantined; want ok, %d, 1\n%s", r.Result, r.RecordsDropped, r.RecordsQuarantined, dropped, out)
	}
	if got := readFile(t, store); !bytes.Equal(got, kept) {
		t.Errorf("the store after the run is not the 2100 records byte for byte:\n%s", got)
	}
	// The quarantine went to the image's state directory.
	if !strings.HasPrefix(r.QuarantineFile, "/var/lib/papyrad/quarantine/") {
		t.Errorf("quarantine file %q: want it under the image's /var/lib/papyrad", r.QuarantineFile)
	} else if b := readFile(t, filepath.Join(rootfs, r.QuarantineFile)); !bytes.Contains(b, []byte("cut off by a cra")) {
		t.Errorf("quarantine file holds no cut-off line:\n%s", b)
	}
}

// imageConfig is the part of an OCI image configuration the test reads.
type imageConfig struct {
	Config struct {
		User       string
		Entrypoint []string
		Env        []string
		WorkingDir string
		Labels     map[string]string
	} `json:"config"`
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
}

// unpackImage reads an OCI archive (a tar of an OCI image layout) holding one image, and
// unpacks its layers, in order, into a new directory: the image's root file system.
func unpackImage(t *testing.T, archive string) (imageConfig, string) {
	t.Helper()
	layout := t.TempDir()
	run(t, "tar", "-xf", archive, "-C", layout)
	blob := func(digest string) []byte {
		alg, hex, _ := strings.Cut(digest, ":")
		return readFile(t, filepath.Join(layout, "blobs", alg, hex))
	}
	var index struct{ Manifests []descriptor }
	if err := json.Unmarshal(readFile(t, filepath.Join(layout, "index.json")), &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v, %d manifests", err, len(index.Manifests))
	}
	var manifest struct {
		Config descriptor
		Layers []descriptor
	}
	if err := json.Unmarshal(blob(index.Manifests[0].Digest), &manifest); err != nil {
		t.Fatal(err)
	}
	var cfg imageConfig
	if err := json.Unmarshal(blob(manifest.Config.Digest), &cfg); err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	for _, l := range manifest.Layers {
		if err := untar(rootfs, l.MediaType, bytes.NewReader(blob(l.Digest))); err != nil {
			t.Fatalf("layer %s: %v", l.Digest, err)
		}
	}
	return cfg, rootfs
}

// untar unpacks one layer into dir with its owners and modes.
func untar(dir, mediaType string, r io.Reader) error {
	switch {
	case strings.HasSuffix(mediaType, "+gzip"):
		zr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		r = zr
	case strings.HasSuffix(mediaType, "+zstd"):
		zr, err := zstd.NewReader(r)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(mediaType, ".tar"):
	default:
		return fmt.Errorf("layer media type %s", mediaType)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean("/" + h.Name)
		if strings.Contains(filepath.Base(name), ".wh.") {
			return fmt.Errorf("whiteout %s: a FROM scratch image has no layer below to hide", h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: tar entry type %c not expected in papyrad's image", h.Name, h.Typeflag)
		}
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(h.Mode).Perm()); err != nil {
			return err
		}
	}
}

// numericUser parses an image's USER as "uid:gid" (or "uid", the group then the same).
func numericUser(s string) (uid, gid uint32, ok bool) {
	u, g, found := strings.Cut(s, ":")
	if !found {
		g = u
	}
	uu, err1 := strconv.ParseUint(u, 10, 32)
	gg, err2 := strconv.ParseUint(g, 10, 32)
	return uint32(uu), uint32(gg), err1 == nil && err2 == nil
}
