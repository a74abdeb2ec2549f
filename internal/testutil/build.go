package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles the main package pkg (an import path of this module) into dir and returns
// the program's path. extra flags (for example "-race") go to go build.
func Build(dir, pkg string, extra ...string) (string, error) {
	out, err := BuildAll(dir, []string{pkg}, extra...)
	if err != nil {
		return "", err
	}
	return out[0], nil
}

// BuildAll compiles the main packages pkgs into dir with one go build, which compiles what
// they share once and the rest in parallel, and returns the programs' paths in the order of
// pkgs. extra flags go to go build.
func BuildAll(dir string, pkgs []string, extra ...string) ([]string, error) {
	goBin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			goBin = p
		}
	}
	out := make([]string, len(pkgs))
	for i, pkg := range pkgs {
		out[i] = filepath.Join(dir, filepath.Base(pkg))
	}
	args := append([]string{"build"}, extra...)
	// With a directory (ending in a separator) as -o, go build writes each main package there
	// under its last path element.
	args = append(args, "-o", dir+string(filepath.Separator))
	args = append(args, pkgs...)
	cmd := exec.Command(goBin, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, b)
	}
	return out, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
