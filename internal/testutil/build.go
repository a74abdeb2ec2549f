package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles the main package pkg (an import path of this module) into dir and returns
// the program's path. extra flags (for example "-race") go to go build.
func Build(dir, pkg string, extra ...string) (string, error) {
	out := filepath.Join(dir, filepath.Base(pkg))
	goBin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			goBin = p
		}
	}
	args := append([]string{"build"}, extra...)
	args = append(args, "-o", out, pkg)
	cmd := exec.Command(goBin, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
