# bench/demo.gp: the plots of `make demo` (gnuplot -e "dir='...'" bench/demo.gp).
set terminal pngcairo size 1000,560 font "sans,10" noenhanced
set datafile separator ","
set key outside right top
set grid
set xlabel "seconds since the sale opened"

set output dir."/sale.png"
set title "Opening night: the waiting room and the seats"
set ylabel "people / seats"
set format y "%.0f"
plot dir."/timeline.csv" using 1:2 every ::1 with lines lw 2 title "waiting", \
     ''                 using 1:3 every ::1 with lines lw 2 title "admitted", \
     ''                 using 1:5 every ::1 with lines lw 2 title "seats held", \
     ''                 using 1:6 every ::1 with lines lw 2 title "seats sold"

set output dir."/rates.png"
set title "Holds and sales per second"
set ylabel "per second"
plot dir."/timeline.csv" using 1:9 every ::1 with lines lw 2 title "holds/s", \
     ''                 using 1:10 every ::1 with lines lw 2 title "seats sold/s", \
     ''                 using 1:8 every ::1 axes x1y2 with lines lw 1 dt 2 title "compensations (right)"
set y2tics
set y2label "compensations"
replot
unset y2tics
unset y2label

set output dir."/flow.png"
set title "Flow control: admission follows what the payments absorb"
set ylabel "per second"
set y2tics
set y2label "seconds"
plot dir."/timeline.csv" using 1:11 every ::1 with lines lw 2 title "effective admission rate", \
     ''                 using 1:14 every ::1 with lines lw 1 title "admitted/s", \
     ''                 using 1:15 every ::1 with lines lw 1 title "orders paid/s", \
     ''                 using 1:13 every ::1 axes x1y2 with lines lw 2 dt 2 title "age of the oldest unclaimed charge (s, right)"
unset y2tics
unset y2label

set output dir."/latency.png"
set title "Latency of hold and checkout, commit included (5-second buckets)"
set ylabel "milliseconds"
set logscale y
plot dir."/latency.csv" using (strcol(2) eq "hold+commit" ? $1 : NaN):3 with linespoints title "hold p50", \
     ''                using (strcol(2) eq "hold+commit" ? $1 : NaN):5 with linespoints title "hold p99", \
     ''                using (strcol(2) eq "checkout+commit" ? $1 : NaN):3 with linespoints title "checkout p50", \
     ''                using (strcol(2) eq "checkout+commit" ? $1 : NaN):5 with linespoints title "checkout p99"
