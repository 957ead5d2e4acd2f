output "signs" { value = [signum(-3), signum(0), signum(12)] }
output "fraction" { value = try(signum(0.5), "error") }
