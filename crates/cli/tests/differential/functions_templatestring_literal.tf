output "literal_is_refused" { value = templatestring("hello $${x}", { x = 1 }) }
