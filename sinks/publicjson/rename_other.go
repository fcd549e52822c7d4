//go:build !linux

package publicjson

// renameNoReplace moves from to to, failing with fs.ErrExist when to exists.
func renameNoReplace(from, to string) error { return checkedRename(from, to) }
