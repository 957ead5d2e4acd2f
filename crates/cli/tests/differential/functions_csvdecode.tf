output "csv" { value = csvdecode("a,b\n1,2\n3,\"x,y\"\n") }
output "empty" { value = csvdecode("a,b\n") }
