package sqlstore

// ObserveSQL makes f see every statement any store runs until the returned func is called.
func ObserveSQL(f func(query string)) (stop func()) {
	observeSQL.Store(&f)
	return func() { observeSQL.Store(nil) }
}
