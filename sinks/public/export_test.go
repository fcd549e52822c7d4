package public

// SetBeforeFile installs a hook that runs before each snapshot file is
// queued (tests inject failures and cancellations with it).
func (p *Publisher) SetBeforeFile(f func(rel string) error) { p.beforeFile = f }
