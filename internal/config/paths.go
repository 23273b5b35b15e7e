package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"time"
)

// A setting whose value is a file or folder carries the tag path:"file" or
// path:"dir". Relative values in a configuration file are taken from the
// file's folder (resolvePaths); relative values from the environment, and
// all of a configuration without a file, from the working directory.

// resolvePaths makes every relative path setting in v, a struct, relative
// to dir instead.
func resolvePaths(v reflect.Value, dir string) {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		switch {
		case !f.IsExported():
		case f.Tag.Get("path") != "":
			switch fv.Kind() {
			case reflect.String:
				fv.SetString(resolvePath(dir, fv.String()))
			case reflect.Slice:
				s := slices.Clone(fv.Interface().([]string))
				for j := range s {
					s[j] = resolvePath(dir, s[j])
				}
				fv.Set(reflect.ValueOf(s))
			}
		case fv.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]():
			resolvePaths(fv, dir)
		case fv.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			for j := range fv.Len() {
				resolvePaths(fv.Index(j), dir)
			}
		}
	}
}

func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// PathSettings returns the YAML paths of every setting that names a file or
// a folder, in the order of the Config type ("[]" stands for a list index).
func PathSettings() []string {
	var out []string
	walkKeys(reflect.TypeFor[Config](), "", true, func(p string, f reflect.StructField) {
		if f.Tag.Get("path") != "" {
			out = append(out, p)
		}
	})
	return out
}
