# terrane-difference: csvdecode is not implemented yet
output "csv" { value = csvdecode("a,b\n1,2\n") }
