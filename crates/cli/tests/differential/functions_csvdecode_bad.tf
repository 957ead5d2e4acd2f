output "bad" { value = csvdecode("a,b\n1\n") }
