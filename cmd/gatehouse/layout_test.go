package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReadmeLayoutIsComplete: the README's Layout section names every
// top-level folder and every Go package (a package under bench/, deploy/
// or gen/ may be covered by its folder's line; one under cmd/ or internal/
// has its own), and names nothing that does not exist, so a newcomer can
// find any package's job there.
func TestReadmeLayoutIsComplete(t *testing.T) {
	const root = "../.."
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := layoutEntries(t, string(data))

	top, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range top {
		if e.IsDir() && e.Name() != ".git" && !listedUnder(listed, e.Name()) {
			t.Errorf("top-level folder %s/ is not in the README's Layout: add a line there saying what it is for", e.Name())
		}
	}
	for _, dir := range goPackageDirs(t, root) {
		if !coveredBy(listed, dir) {
			t.Errorf("package %s/ is not in the README's Layout: add a line there saying what it is for", dir)
		}
	}
	for entry := range listed {
		if fi, err := os.Stat(filepath.Join(root, entry)); err != nil || !fi.IsDir() {
			t.Errorf("the README's Layout names %s/, which is not a folder", entry)
		}
	}
}

// layoutEntries returns the folders the Layout section's code block names
// at the start of its lines ("a/, b/  what they are"), without the slash.
func layoutEntries(t *testing.T, readme string) map[string]bool {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Layout\n")
	if !ok {
		t.Fatal("README has no ## Layout section")
	}
	_, block, ok := strings.Cut(section, "```\n")
	block, _, closed := strings.Cut(block, "```")
	if !ok || !closed {
		t.Fatal("the Layout section has no code block")
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		for _, field := range strings.Fields(line) {
			name, isDir := strings.CutSuffix(strings.TrimSuffix(field, ","), "/")
			if !isDir {
				break // the description starts
			}
			listed[name] = true
		}
	}
	return listed
}

// goPackageDirs returns every folder under root holding .go files,
// relative to root, slash-separated.
func goPackageDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); !slices.Contains(dirs, rel) {
			dirs = append(dirs, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// listedUnder reports whether top, or a folder in it, is listed.
func listedUnder(listed map[string]bool, top string) bool {
	for entry := range listed {
		if entry == top || strings.HasPrefix(entry, top+"/") {
			return true
		}
	}
	return false
}

// coveredBy reports whether dir is listed, or (outside cmd/ and internal/,
// whose packages each have a line) lies in a listed folder.
func coveredBy(listed map[string]bool, dir string) bool {
	if listed[dir] {
		return true
	}
	if strings.HasPrefix(dir, "cmd/") || strings.HasPrefix(dir, "internal/") {
		return false
	}
	for d := filepath.ToSlash(filepath.Dir(dir)); d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
		if listed[d] {
			return true
		}
	}
	return false
}
