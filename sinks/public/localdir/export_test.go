package localdir

// SetLink replaces os.Link (tests make hard links fail with it).
func (d *Dir) SetLink(f func(oldname, newname string) error) { d.link = f }
