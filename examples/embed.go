// Package examples carries the example job files and their source schemas
// inside the rdg binary, so that `rdg up --demo` works from any directory.
// The files themselves, under netflix/, are the documentation of the demo's
// graph model.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed netflix/jobs/*.yaml netflix/schemas/*.avsc
var files embed.FS

// Netflix is the Netflix example: jobs/ and schemas/.
func Netflix() fs.FS {
	sub, err := fs.Sub(files, "netflix")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// WriteNetflix writes the Netflix example under dir, replacing older copies,
// so that a user can read and copy what the demo runs. It returns the jobs
// directory.
func WriteNetflix(dir string) (string, error) {
	err := fs.WalkDir(Netflix(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, path), 0o755)
		}
		b, err := fs.ReadFile(Netflix(), path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, path), b, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("write demo example: %w", err)
	}
	return filepath.Join(dir, "jobs"), nil
}
