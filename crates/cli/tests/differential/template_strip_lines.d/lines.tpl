x
  %{~ for i in items ~}

  item ${i}

  %{~ endfor ~}

  done
