package publicjson

// SetBeforeFile installs a hook that runs before each snapshot file is
// queued (tests inject failures and cancellations with it).
func (p *Publisher) SetBeforeFile(f func(rel string) error) { p.beforeFile = f }

// SetLink replaces os.Link (tests make hard links fail with it).
func (p *Publisher) SetLink(f func(oldname, newname string) error) { p.link = f }
